"""guest visits: which visit sent a guest upload, and the name the guest gave

Revision ID: 6f607599a7e3
Revises: af9cb15dc454
Create Date: 2026-12-03 07:41:45.412565

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '6f607599a7e3'
down_revision = 'af9cb15dc454'
branch_labels = None
depends_on = None


# Plain ALTER TABLE rather than batch mode: on SQLite a batch drop copies the table, and the
# copy loses the triggers that keep the files_search index in step with files.
def upgrade():
    op.add_column('files', sa.Column('visit_hash', sa.String(length=64), nullable=True))
    op.add_column('files', sa.Column('sent_name', sa.String(length=255), nullable=True))
    op.create_index(op.f('ix_files_visit_hash'), 'files', ['visit_hash'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_files_visit_hash'), table_name='files')
    op.drop_column('files', 'sent_name')
    op.drop_column('files', 'visit_hash')
