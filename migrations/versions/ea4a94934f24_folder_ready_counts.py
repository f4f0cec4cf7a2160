"""folder counts: each folder keeps how many ready files it holds directly, and their bytes

A folder's row says what it holds at any depth; adding up these columns over its folders costs as many rows
as it has folders, where counting its files read every one of them (a million, for a folder holding a
million files). Triggers on files keep the columns in step with every insert, delete and change of status,
folder or size, whichever code makes it.

Revision ID: ea4a94934f24
Revises: caf23d8d60d7
Create Date: 2026-12-08 02:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'ea4a94934f24'
down_revision = 'caf23d8d60d7'
branch_labels = None
depends_on = None

# The change a statement made to each folder's ready files, from PostgreSQL's transition tables.
ADDED = "SELECT folder_id, 1 AS files, size AS bytes FROM new_rows WHERE status = 'ready'"
REMOVED = "SELECT folder_id, -1 AS files, -size AS bytes FROM old_rows WHERE status = 'ready'"
# Folder rows are locked in id order first, as folders.claim takes them: two statements changing the
# same folders in another order would otherwise each hold one lock and wait for the other's.
APPLY = """PERFORM 1 FROM folders WHERE id IN (SELECT folder_id FROM ({rows}) AS locked GROUP BY folder_id
                                                HAVING sum(files) <> 0 OR sum(bytes) <> 0)
        ORDER BY id FOR UPDATE;
        UPDATE folders SET ready_files = ready_files + change.files, ready_bytes = ready_bytes + change.bytes
        FROM (SELECT folder_id, sum(files) AS files, sum(bytes) AS bytes FROM ({rows}) AS moved
              GROUP BY folder_id) AS change
        WHERE folders.id = change.folder_id AND (change.files <> 0 OR change.bytes <> 0);"""
TRIGGERS = ("insert", "delete", "update")


def upgrade():
    with op.batch_alter_table('folders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ready_files', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('ready_bytes', sa.BigInteger(), server_default='0', nullable=False))
    op.execute("""UPDATE folders SET
        ready_files = (SELECT count(*) FROM files WHERE files.folder_id = folders.id AND files.status = 'ready'),
        ready_bytes = (SELECT coalesce(sum(size), 0) FROM files
                       WHERE files.folder_id = folders.id AND files.status = 'ready')""")
    if op.get_bind().dialect.name == "sqlite":
        create_sqlite_triggers()
    else:
        create_postgresql_triggers()


def create_sqlite_triggers():
    """One row at a time: SQLite has no statement-level triggers."""
    add = "UPDATE folders SET ready_files = ready_files + 1, ready_bytes = ready_bytes + new.size " \
          "WHERE id = new.folder_id"
    remove = "UPDATE folders SET ready_files = ready_files - 1, ready_bytes = ready_bytes - old.size " \
             "WHERE id = old.folder_id"
    op.execute(f"""CREATE TRIGGER folder_counts_insert AFTER INSERT ON files WHEN new.status = 'ready' BEGIN
        {add}; END""")
    op.execute(f"""CREATE TRIGGER folder_counts_delete AFTER DELETE ON files WHEN old.status = 'ready' BEGIN
        {remove}; END""")
    op.execute(f"""CREATE TRIGGER folder_counts_update AFTER UPDATE OF status, folder_id, size ON files
        WHEN old.status = 'ready' OR new.status = 'ready' BEGIN
        {remove} AND old.status = 'ready';
        {add} AND new.status = 'ready'; END""")


def create_postgresql_triggers():
    """Once per statement, from its transition tables: moving or trashing many files updates each folder once.
    The function keeps the schema it was made in, so it finds this schema's folders whatever the caller's
    search_path."""
    op.execute(f"""CREATE FUNCTION folder_counts() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {APPLY.format(rows=ADDED)}
        ELSIF TG_OP = 'DELETE' THEN
            {APPLY.format(rows=REMOVED)}
        ELSE
            {APPLY.format(rows=f"{ADDED} UNION ALL {REMOVED}")}
        END IF;
        RETURN NULL;
    END $$""")
    op.execute("CREATE TRIGGER folder_counts_insert AFTER INSERT ON files REFERENCING NEW TABLE AS new_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION folder_counts()")
    op.execute("CREATE TRIGGER folder_counts_delete AFTER DELETE ON files REFERENCING OLD TABLE AS old_rows "
               "FOR EACH STATEMENT EXECUTE FUNCTION folder_counts()")
    op.execute("CREATE TRIGGER folder_counts_update AFTER UPDATE ON files REFERENCING OLD TABLE AS old_rows "
               "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION folder_counts()")


def downgrade():
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS folder_counts_{trigger}" +
                   ("" if op.get_bind().dialect.name == "sqlite" else " ON files"))
    if op.get_bind().dialect.name != "sqlite":
        op.execute("DROP FUNCTION folder_counts()")
    with op.batch_alter_table('folders', schema=None) as batch_op:
        batch_op.drop_column('ready_bytes')
        batch_op.drop_column('ready_files')
