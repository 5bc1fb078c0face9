"""Database-level guard: published versions and their criteria cannot be written.

On PostgreSQL two triggers refuse, whatever client sends the SQL:

* an UPDATE of a published version that changes any of its content columns (``author_id`` may
  still become NULL when a user account is deleted), and its DELETE, unless its rubric is being
  deleted in the same transaction (its id is in the transaction-local setting
  ``rubricstudio.purge``, which ``apps.rubrics.signals`` sets when a rubric is deleted);
* any INSERT, UPDATE or DELETE of a criterion of a published version (DELETE again only when
  the rubric is being deleted).

Other databases rely on the model-level guard (``RubricVersion.save`` and friends), so the
migration does nothing there.
"""

from django.db import migrations

FROZEN_COLUMNS = (
    "rubric_id",
    "number",
    "parent_id",
    "status",
    "instructions",
    "template",
    "output_format",
    "message",
    "content_hash",
    "revision",
    "published_at",
    "created_at",
)

_CHANGED = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in FROZEN_COLUMNS)

CREATE_SQL = f"""
CREATE OR REPLACE FUNCTION rubrics_purged_rubrics() RETURNS text[] AS $$
    SELECT string_to_array(coalesce(current_setting('rubricstudio.purge', true), ''), ',');
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION rubrics_version_guard() RETURNS trigger AS $$
BEGIN
    IF OLD.status = 'published' THEN
        IF TG_OP = 'DELETE' THEN
            IF NOT (OLD.rubric_id::text = ANY(rubrics_purged_rubrics())) THEN
                RAISE EXCEPTION 'rubric version % is published and cannot be deleted', OLD.id
                    USING ERRCODE = 'integrity_constraint_violation';
            END IF;
            RETURN OLD;
        END IF;
        IF {_CHANGED} THEN
            RAISE EXCEPTION 'rubric version % is published and cannot change', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS rubrics_version_guard ON rubrics_rubricversion;
CREATE TRIGGER rubrics_version_guard
    BEFORE UPDATE OR DELETE ON rubrics_rubricversion
    FOR EACH ROW EXECUTE FUNCTION rubrics_version_guard();

CREATE OR REPLACE FUNCTION rubrics_criterion_guard() RETURNS trigger AS $$
DECLARE
    touched bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN
        touched := ARRAY[NEW.version_id];
    ELSIF TG_OP = 'UPDATE' THEN
        touched := ARRAY[NEW.version_id, OLD.version_id];
    ELSE
        touched := ARRAY[OLD.version_id];
    END IF;
    IF EXISTS (
        SELECT 1 FROM rubrics_rubricversion
        WHERE id = ANY(touched) AND status = 'published'
          AND NOT (TG_OP = 'DELETE' AND rubric_id::text = ANY(rubrics_purged_rubrics()))
    ) THEN
        RAISE EXCEPTION 'criteria of a published rubric version are immutable'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS rubrics_criterion_guard ON rubrics_criterion;
CREATE TRIGGER rubrics_criterion_guard
    BEFORE INSERT OR UPDATE OR DELETE ON rubrics_criterion
    FOR EACH ROW EXECUTE FUNCTION rubrics_criterion_guard();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS rubrics_criterion_guard ON rubrics_criterion;
DROP FUNCTION IF EXISTS rubrics_criterion_guard();
DROP TRIGGER IF EXISTS rubrics_version_guard ON rubrics_rubricversion;
DROP FUNCTION IF EXISTS rubrics_version_guard();
DROP FUNCTION IF EXISTS rubrics_purged_rubrics();
"""


def create_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE_SQL, params=None)


def drop_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL, params=None)


class Migration(migrations.Migration):
    dependencies = [("rubrics", "0001_initial")]

    operations = [migrations.RunPython(create_guard, drop_guard)]
