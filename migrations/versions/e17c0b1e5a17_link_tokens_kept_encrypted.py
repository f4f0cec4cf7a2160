"""link tokens kept encrypted, so owners can copy their links again

Revision ID: e17c0b1e5a17
Revises: 6f607599a7e3
Create Date: 2026-12-03 07:55:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e17c0b1e5a17'
down_revision = '6f607599a7e3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_encrypted', sa.String(length=255), nullable=True))
    with op.batch_alter_table('file_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_encrypted', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('file_requests', schema=None) as batch_op:
        batch_op.drop_column('token_encrypted')
    with op.batch_alter_table('shares', schema=None) as batch_op:
        batch_op.drop_column('token_encrypted')
