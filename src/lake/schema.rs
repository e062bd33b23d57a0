//! Table schemas: Polars types ↔ Delta types ↔ Arrow types.

use std::sync::Arc;

use deltalake::arrow::datatypes::{
    DataType as ArrowType, Field, Schema as ArrowSchema, SchemaRef, TimeUnit as ArrowUnit,
};
use deltalake::kernel::{DataType as DeltaType, StructField};
use polars::prelude::{DataType as PlType, Schema as PlSchema};

/// One column of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Name.
    pub name: String,
    /// Delta type.
    pub ty: DeltaType,
}

/// Columns and partitioning of a table.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// Columns, in order.
    pub columns: Vec<Column>,
    /// Partition columns.
    pub partition_by: Vec<String>,
}

impl TableSchema {
    /// From a Polars schema (all columns nullable).
    pub fn from_polars(schema: &PlSchema, partition_by: &[String]) -> Result<Self, String> {
        let columns = schema
            .iter()
            .map(|(name, dt)| {
                Ok(Column {
                    name: name.to_string(),
                    ty: delta_type(dt).map_err(|e| format!("column `{name}`: {e}"))?,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            columns,
            partition_by: partition_by.to_vec(),
        })
    }

    /// Delta struct fields (nullable).
    pub fn fields(&self) -> Vec<StructField> {
        self.columns
            .iter()
            .map(|c| StructField::nullable(c.name.clone(), c.ty.clone()))
            .collect()
    }

    /// The Arrow schema data is cast to before writing.
    pub fn arrow(&self) -> SchemaRef {
        Arc::new(ArrowSchema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name.clone(), arrow_type(&c.ty), true))
                .collect::<Vec<_>>(),
        ))
    }

    /// The columns this schema adds to `actual` (a table's schema) when that is all that
    /// differs: every column of the table is here with the same type, the partitioning is
    /// the same, and at least one column is new. Such a change evolves the table by a
    /// metadata-only commit (old files read the new columns as null).
    pub fn added_columns(&self, actual: &TableSchema) -> Option<Vec<Column>> {
        self.evolution(actual)
            .filter(|e| e.widened.is_empty())
            .map(|e| e.added)
    }

    /// How this schema evolves `actual` (a table's schema) when the change is safe: the same
    /// partitioning, every column of the table still here with the same type or a safe
    /// widening of it ([`is_safe_widening`]), maybe new columns. None when the change is
    /// breaking or when nothing changes.
    pub fn evolution(&self, actual: &TableSchema) -> Option<Evolution> {
        if self.partition_by != actual.partition_by {
            return None;
        }
        let mut widened = Vec::new();
        for a in &actual.columns {
            let c = self.columns.iter().find(|c| c.name == a.name)?;
            if c.ty != a.ty {
                if !is_safe_widening(&a.ty, &c.ty) {
                    return None;
                }
                widened.push(Widening {
                    name: a.name.clone(),
                    from: a.ty.clone(),
                    to: c.ty.clone(),
                });
            }
        }
        let added: Vec<Column> = self
            .columns
            .iter()
            .filter(|c| !actual.columns.iter().any(|a| a.name == c.name))
            .cloned()
            .collect();
        (!added.is_empty() || !widened.is_empty()).then_some(Evolution { added, widened })
    }

    /// Describes how `other` (the table's actual schema) differs from this one, or None.
    pub fn diff(&self, other: &TableSchema) -> Option<String> {
        let mut lines = Vec::new();
        for c in &self.columns {
            match other.columns.iter().find(|o| o.name == c.name) {
                None => lines.push(format!(
                    "  - column `{}` ({}) is in the spec but not in the table",
                    c.name,
                    type_name(&c.ty)
                )),
                Some(o) if o.ty != c.ty => lines.push(format!(
                    "  - column `{}` is {} in the table but {} in the spec",
                    c.name,
                    type_name(&o.ty),
                    type_name(&c.ty)
                )),
                _ => {}
            }
        }
        for o in &other.columns {
            if !self.columns.iter().any(|c| c.name == o.name) {
                lines.push(format!(
                    "  - column `{}` ({}) is in the table but not in the spec",
                    o.name,
                    type_name(&o.ty)
                ));
            }
        }
        if self.partition_by != other.partition_by {
            lines.push(format!(
                "  - partitioned by {:?} in the table but {:?} in the spec",
                other.partition_by, self.partition_by
            ));
        }
        (!lines.is_empty()).then(|| lines.join("\n"))
    }
}

/// A safe change of a table's schema: new nullable columns, wider types.
#[derive(Debug, Clone, PartialEq)]
pub struct Evolution {
    /// New columns (older rows read them as null).
    pub added: Vec<Column>,
    /// Columns whose type becomes wider (every old value is kept exactly).
    pub widened: Vec<Widening>,
}

/// One column whose type becomes wider.
#[derive(Debug, Clone, PartialEq)]
pub struct Widening {
    /// Column name.
    pub name: String,
    /// Type in the table.
    pub from: DeltaType,
    /// Type in the spec.
    pub to: DeltaType,
}

impl std::fmt::Display for Evolution {
    /// `ADD COLUMN remise double; ALTER COLUMN quantite integer → long`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if !self.added.is_empty() {
            parts.push(format!(
                "ADD COLUMN {}",
                self.added
                    .iter()
                    .map(|c| format!("{} {}", c.name, type_name(&c.ty)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for w in &self.widened {
            parts.push(format!(
                "ALTER COLUMN {} {} → {}",
                w.name,
                type_name(&w.from),
                type_name(&w.to)
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

/// Whether every value of `from` is exactly a value of `to`: byte → short → integer → long,
/// float → double (the widenings of Delta's `typeWidening` feature that lose nothing).
pub fn is_safe_widening(from: &DeltaType, to: &DeltaType) -> bool {
    use deltalake::kernel::PrimitiveType as P;
    let (DeltaType::Primitive(f), DeltaType::Primitive(t)) = (from, to) else {
        return false;
    };
    let rank = |p: &P| match p {
        P::Byte => Some(0),
        P::Short => Some(1),
        P::Integer => Some(2),
        P::Long => Some(3),
        _ => None,
    };
    match (rank(f), rank(t)) {
        (Some(a), Some(b)) => a < b,
        _ => matches!((f, t), (P::Float, P::Double)),
    }
}

/// Short name of a Delta type.
pub fn type_name(t: &DeltaType) -> String {
    match t {
        DeltaType::Primitive(p) => serde_json::to_value(p)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| format!("{p:?}")),
        other => format!("{other:?}"),
    }
}

/// The Delta type that stores a Polars type.
pub fn delta_type(dt: &PlType) -> Result<DeltaType, String> {
    Ok(match dt {
        PlType::Boolean => DeltaType::BOOLEAN,
        PlType::Int8 | PlType::Int16 | PlType::Int32 | PlType::UInt8 | PlType::UInt16 => {
            DeltaType::INTEGER
        }
        PlType::Int64 | PlType::UInt32 | PlType::UInt64 => DeltaType::LONG,
        PlType::Float32 => DeltaType::FLOAT,
        PlType::Float64 => DeltaType::DOUBLE,
        PlType::String => DeltaType::STRING,
        PlType::Binary => DeltaType::BINARY,
        PlType::Date => DeltaType::DATE,
        PlType::Datetime(_, _) => DeltaType::TIMESTAMP,
        PlType::Null => DeltaType::STRING,
        other => {
            return Err(format!(
                "type {other} cannot be stored in a Delta table by lakectl"
            ))
        }
    })
}

/// The Arrow type of a Delta type, as the Delta writer expects it.
pub fn arrow_type(t: &DeltaType) -> ArrowType {
    match t {
        DeltaType::Primitive(p) => {
            use deltalake::kernel::PrimitiveType as P;
            match p {
                P::String => ArrowType::Utf8,
                P::Long => ArrowType::Int64,
                P::Integer => ArrowType::Int32,
                P::Short => ArrowType::Int16,
                P::Byte => ArrowType::Int8,
                P::Float => ArrowType::Float32,
                P::Double => ArrowType::Float64,
                P::Boolean => ArrowType::Boolean,
                P::Binary => ArrowType::Binary,
                P::Date => ArrowType::Date32,
                P::Timestamp => ArrowType::Timestamp(ArrowUnit::Microsecond, Some("UTC".into())),
                P::TimestampNtz => ArrowType::Timestamp(ArrowUnit::Microsecond, None),
                _ => ArrowType::Utf8,
            }
        }
        _ => ArrowType::Utf8,
    }
}

/// The Polars type a Delta column is read as.
pub fn polars_type(t: &DeltaType) -> PlType {
    use polars::prelude::TimeUnit;
    match t {
        DeltaType::Primitive(p) => {
            use deltalake::kernel::PrimitiveType as P;
            match p {
                P::String => PlType::String,
                P::Long => PlType::Int64,
                P::Integer => PlType::Int32,
                P::Short | P::Byte => PlType::Int32,
                P::Float => PlType::Float32,
                P::Double => PlType::Float64,
                P::Boolean => PlType::Boolean,
                P::Binary => PlType::Binary,
                P::Date => PlType::Date,
                P::Timestamp => {
                    PlType::Datetime(TimeUnit::Microseconds, Some(polars::prelude::TimeZone::UTC))
                }
                P::TimestampNtz => PlType::Datetime(TimeUnit::Microseconds, None),
                _ => PlType::String,
            }
        }
        _ => PlType::String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema(cols: &[(&str, DeltaType)]) -> TableSchema {
        TableSchema {
            columns: cols
                .iter()
                .map(|(n, t)| Column {
                    name: n.to_string(),
                    ty: t.clone(),
                })
                .collect(),
            partition_by: vec![],
        }
    }

    #[test]
    fn widenings_lose_nothing_and_everything_else_is_breaking() {
        use DeltaType as T;
        for (from, to) in [
            (T::BYTE, T::SHORT),
            (T::SHORT, T::INTEGER),
            (T::INTEGER, T::LONG),
            (T::BYTE, T::LONG),
            (T::FLOAT, T::DOUBLE),
        ] {
            assert!(is_safe_widening(&from, &to), "{from:?} → {to:?}");
        }
        for (from, to) in [
            (T::LONG, T::INTEGER),
            (T::INTEGER, T::DOUBLE),
            (T::LONG, T::DOUBLE),
            (T::DOUBLE, T::FLOAT),
            (T::INTEGER, T::STRING),
            (T::DATE, T::TIMESTAMP),
        ] {
            assert!(!is_safe_widening(&from, &to), "{from:?} → {to:?}");
        }
    }

    #[test]
    fn evolution_lists_new_and_widened_columns_or_refuses() {
        use DeltaType as T;
        let table = schema(&[("q", T::INTEGER), ("m", T::FLOAT)]);
        let e = schema(&[("q", T::LONG), ("m", T::FLOAT), ("r", T::DOUBLE)])
            .evolution(&table)
            .expect("safe");
        assert_eq!(
            e.to_string(),
            "ADD COLUMN r double; ALTER COLUMN q integer → long"
        );
        assert!(schema(&[("q", T::LONG), ("m", T::FLOAT)])
            .added_columns(&table)
            .is_none());
        // A removed column, a narrowing, an unchanged schema: nothing to apply.
        assert!(schema(&[("q", T::INTEGER)]).evolution(&table).is_none());
        assert!(schema(&[("q", T::SHORT), ("m", T::FLOAT)])
            .evolution(&table)
            .is_none());
        assert!(table.evolution(&table).is_none());
    }
}
