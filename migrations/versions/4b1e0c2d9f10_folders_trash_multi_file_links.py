"""folders, trash, links to a folder or a selection, and where an upload request delivers

Every user gets a root folder and every existing file lands in it, with nothing else changed.

Revision ID: 4b1e0c2d9f10
Revises: e17c0b1e5a17
Create Date: 2026-12-04 19:10:00.000000

"""
import uuid
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '4b1e0c2d9f10'
down_revision = 'e17c0b1e5a17'
branch_labels = None
depends_on = None

READY = sa.text("status = 'ready'")
LIVE = sa.text("trashed_at IS NULL")
ROOT = sa.text("parent_id IS NULL")


# Plain ALTER TABLE rather than batch mode: on SQLite a batch copy of `files` loses the
# triggers that keep the files_search index in step with it.
def upgrade():
    op.create_table(
        'folders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=32), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=False),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('search_name', sa.String(length=255), server_default='', nullable=False),
        sa.Column('depth', sa.Integer(), server_default='0', nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.Column('trashed_at', sa.DateTime(), nullable=True),
        sa.Column('trashed_from', sa.Text(), nullable=True),
        sa.Column('trashed_with_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_folders_owner_id_users'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['parent_id'], ['folders.id'], name=op.f('fk_folders_parent_id_folders')),
        sa.ForeignKeyConstraint(['trashed_with_id'], ['folders.id'], name=op.f('fk_folders_trashed_with_id_folders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_folders')),
        sa.UniqueConstraint('public_id', name=op.f('uq_folders_public_id')),
    )
    op.create_index('uq_folders_root', 'folders', ['owner_id'], unique=True,
                    sqlite_where=ROOT, postgresql_where=ROOT)
    op.create_index('uq_folders_parent_live_name', 'folders', ['parent_id', 'name'], unique=True,
                    sqlite_where=LIVE, postgresql_where=LIVE)
    op.create_index('ix_folders_owner_trashed', 'folders', ['owner_id', 'trashed_at'], unique=False)
    op.create_index(op.f('ix_folders_trashed_with_id'), 'folders', ['trashed_with_id'], unique=False)

    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.add_column(sa.Column('folder_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('trashed_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('trashed_from', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('trashed_with_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_files_folder_id_folders'), 'folders', ['folder_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_files_trashed_with_id_folders'), 'folders', ['trashed_with_id'],
                                    ['id'])
        batch_op.create_index(batch_op.f('ix_files_trashed_with_id'), ['trashed_with_id'], unique=False)
        batch_op.create_index('ix_files_owner_trashed', ['owner_id', 'trashed_at'], unique=False)
        batch_op.create_index('ix_files_folder_status_created', ['folder_id', 'status', 'created_at', 'id'])
        batch_op.create_index('ix_files_folder_status_name', ['folder_id', 'status', 'name', 'id'])
        batch_op.create_index('ix_files_folder_status_size', ['folder_id', 'status', 'size', 'id'])
    recreate_search_triggers()

    connection = op.get_bind()
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    folders = sa.table('folders', sa.column('public_id'), sa.column('owner_id'), sa.column('name'),
                       sa.column('search_name'), sa.column('depth'), sa.column('created_at'), sa.column('updated_at'))
    user_ids = connection.execute(sa.text("SELECT id FROM users")).scalars().all()
    if user_ids:
        op.bulk_insert(folders, [{"public_id": uuid.uuid4().hex, "owner_id": user_id, "name": "", "search_name": "",
                                  "depth": 0, "created_at": now, "updated_at": now} for user_id in user_ids])
    connection.execute(sa.text(
        "UPDATE files SET folder_id = (SELECT folders.id FROM folders"
        " WHERE folders.owner_id = files.owner_id AND folders.parent_id IS NULL)"))
    op.drop_index('uq_files_owner_ready_name', table_name='files', sqlite_where=READY, postgresql_where=READY)
    op.create_index('uq_files_folder_ready_name', 'files', ['folder_id', 'name'], unique=True,
                    sqlite_where=READY, postgresql_where=READY)

    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.add_column(sa.Column('folder_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('is_selection', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_foreign_key(batch_op.f('fk_shares_folder_id_folders'), 'folders', ['folder_id'], ['id'],
                                    ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_shares_folder_id'), ['folder_id'], unique=False)
    op.create_table(
        'share_items',
        sa.Column('share_id', sa.Integer(), nullable=False),
        sa.Column('file_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['file_id'], ['files.id'], name=op.f('fk_share_items_file_id_files'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['share_id'], ['shares.id'], name=op.f('fk_share_items_share_id_shares'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('share_id', 'file_id', name=op.f('pk_share_items')),
    )
    op.create_index(op.f('ix_share_items_file_id'), 'share_items', ['file_id'], unique=False)

    with op.batch_alter_table('file_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('folder_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_file_requests_folder_id_folders'), 'folders', ['folder_id'],
                                    ['id'], ondelete='SET NULL')
        batch_op.create_index(batch_op.f('ix_file_requests_folder_id'), ['folder_id'], unique=False)

def downgrade():
    """Back to one flat list: trashed files come back, and a name two folders both held is told apart by its id."""
    connection = op.get_bind()
    with op.batch_alter_table('file_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_file_requests_folder_id'))
        batch_op.drop_constraint(batch_op.f('fk_file_requests_folder_id_folders'), type_='foreignkey')
        batch_op.drop_column('folder_id')
    op.drop_index(op.f('ix_share_items_file_id'), table_name='share_items')
    op.drop_table('share_items')
    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shares_folder_id'))
        batch_op.drop_constraint(batch_op.f('fk_shares_folder_id_folders'), type_='foreignkey')
        batch_op.drop_column('is_selection')
        batch_op.drop_column('folder_id')

    connection.execute(sa.text("UPDATE files SET status = 'ready' WHERE status = 'trashed'"))
    op.drop_index('uq_files_folder_ready_name', table_name='files', sqlite_where=READY, postgresql_where=READY)
    clashes = connection.execute(sa.text(
        "SELECT f.id, f.name FROM files f WHERE f.status = 'ready' AND EXISTS (SELECT 1 FROM files g"
        " WHERE g.owner_id = f.owner_id AND g.name = f.name AND g.status = 'ready' AND g.id < f.id)")).all()
    for file_id, name in clashes:
        connection.execute(sa.text("UPDATE files SET name = :name, search_name = lower(:name) WHERE id = :id"),
                           {"name": f"{name[:240]} ({file_id})", "id": file_id})
    op.create_index('uq_files_owner_ready_name', 'files', ['owner_id', 'name'], unique=True,
                    sqlite_where=READY, postgresql_where=READY)
    with op.batch_alter_table('files', schema=None) as batch_op:
        batch_op.drop_index('ix_files_folder_status_size')
        batch_op.drop_index('ix_files_folder_status_name')
        batch_op.drop_index('ix_files_folder_status_created')
        batch_op.drop_index('ix_files_owner_trashed')
        batch_op.drop_index(batch_op.f('ix_files_trashed_with_id'))
        batch_op.drop_constraint(batch_op.f('fk_files_trashed_with_id_folders'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_files_folder_id_folders'), type_='foreignkey')
        batch_op.drop_column('trashed_with_id')
        batch_op.drop_column('trashed_from')
        batch_op.drop_column('trashed_at')
        batch_op.drop_column('folder_id')
    recreate_search_triggers()

    op.drop_index(op.f('ix_folders_trashed_with_id'), table_name='folders')
    op.drop_index('ix_folders_owner_trashed', table_name='folders')
    op.drop_index('uq_folders_parent_live_name', table_name='folders', sqlite_where=LIVE, postgresql_where=LIVE)
    op.drop_index('uq_folders_root', table_name='folders', sqlite_where=ROOT, postgresql_where=ROOT)
    op.drop_table('folders')


def recreate_search_triggers():
    """On SQLite a batch change copies `files`, and the copy has none of the triggers that keep the FTS5
    name index (made in 8d8d06a786ad) in step with it; rowids are kept, so the index itself stays valid."""
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS files_search_{trigger}")
    op.execute("""CREATE TRIGGER files_search_insert AFTER INSERT ON files BEGIN
        INSERT INTO files_search(rowid, search_name) VALUES (new.id, new.search_name); END""")
    op.execute("""CREATE TRIGGER files_search_delete AFTER DELETE ON files BEGIN
        INSERT INTO files_search(files_search, rowid, search_name) VALUES ('delete', old.id, old.search_name); END""")
    op.execute("""CREATE TRIGGER files_search_update AFTER UPDATE OF search_name ON files BEGIN
        INSERT INTO files_search(files_search, rowid, search_name) VALUES ('delete', old.id, old.search_name);
        INSERT INTO files_search(rowid, search_name) VALUES (new.id, new.search_name); END""")
