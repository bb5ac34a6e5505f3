"""The ORM models agree with alsnet.schema.TABLES column by column."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from alsnet.registry.models import CANONICAL_TABLES, STORE_ONLY_COLUMNS, Base, table
from alsnet.schema import TABLES

_SQL_TYPE = {
    "str": sa.String,
    "cat": sa.String,
    "int": sa.Integer,
    "flag": sa.SmallInteger,
    "float": sa.Double,
}


def _checks(t: sa.Table) -> dict[str, str]:
    return {str(c.name): str(c.sqltext) for c in t.constraints if isinstance(c, sa.CheckConstraint)}


def test_every_canonical_table_has_a_model_in_load_order() -> None:
    assert list(CANONICAL_TABLES) == list(TABLES)
    assert set(Base.metadata.tables) == {*TABLES, "imports"}
    for name, cls in CANONICAL_TABLES.items():
        assert cls.__tablename__ == name


@pytest.mark.parametrize("name", list(TABLES))
def test_columns_names_order_nullability_and_kinds(name: str) -> None:
    spec, t = TABLES[name], table(name)
    extra = STORE_ONLY_COLUMNS.get(name, ())
    assert [c.name for c in t.columns] == [*spec.names, *extra]
    for col in spec.columns:
        sql = t.c[col.name]
        assert sql.nullable == col.nullable, col.name
        # exact class: SmallInteger is an Integer subclass, so isinstance is not enough
        assert type(sql.type) is _SQL_TYPE[col.kind], (col.name, sql.type)
    for c in extra:
        assert not t.c[c].nullable


@pytest.mark.parametrize("name", list(TABLES))
def test_primary_key_is_the_spec_key(name: str) -> None:
    assert [c.name for c in table(name).primary_key.columns] == list(TABLES[name].key)


@pytest.mark.parametrize("name", list(TABLES))
def test_check_constraints_encode_vocabularies_ranges_and_flags(name: str) -> None:
    spec, checks = TABLES[name], _checks(table(name))
    expected = set()
    for col in spec.columns:
        ck = f"ck_{name}_{col.name}"
        if col.kind == "cat":
            expected.add(ck)
            listed = re.fullmatch(rf"{col.name} IN \((.*)\)", checks[ck])
            assert listed is not None, checks[ck]
            assert [v.strip().strip("'") for v in listed.group(1).split(",")] == list(col.vocab)
        elif col.kind == "flag":
            expected.add(ck)
            assert checks[ck] == f"{col.name} IN (0, 1)"
        elif col.kind in ("int", "float") and col.lo is not None and col.hi is not None:
            expected.add(ck)
            m = re.fullmatch(rf"{col.name} BETWEEN (\S+) AND (\S+)", checks[ck])
            assert m is not None, checks[ck]
            assert (float(m.group(1)), float(m.group(2))) == (col.lo, col.hi)
    assert set(checks) == expected


def test_foreign_keys_and_patient_indexes() -> None:
    for name, spec in TABLES.items():
        t = table(name)
        fks = {
            (fk.parent.name, fk.column.table.name, fk.column.name, fk.ondelete)
            for fk in t.foreign_keys
        }
        if name == "patients":
            assert fks == {("site_id", "sites", "site_id", None)}
        elif spec.per_patient:
            assert fks == {("patient_id", "patients", "patient_id", "CASCADE")}
            # patient_id leads the primary key or has its own index
            leads_pk = t.primary_key.columns.values()[0].name == "patient_id"
            indexed = any(ix.columns.values()[0].name == "patient_id" for ix in t.indexes)
            assert leads_pk or indexed, name
        else:
            assert fks == set()
