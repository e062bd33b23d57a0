//! The Polars → Arrow bridge: Polars arrays move to arrow-rs through the Arrow C Data
//! Interface (no copy), then columns are cast to the table's Arrow schema (Utf8View →
//! Utf8, naive → UTC timestamps, unsigned → signed), because the Delta writer never casts.

use std::sync::Arc;

use deltalake::arrow::array::{make_array, ArrayRef, RecordBatch};
use deltalake::arrow::compute::{cast_with_options, CastOptions};
use deltalake::arrow::datatypes::{DataType as ArrowType, SchemaRef};
use deltalake::arrow::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use polars::prelude::{CompatLevel, DataFrame};

/// Converts `df` into Arrow RecordBatches with exactly the columns and types of `target`.
/// Columns of `df` that `target` lacks are ignored; a missing target column is an error.
pub fn to_record_batches(
    df: &mut DataFrame,
    target: &SchemaRef,
) -> Result<Vec<RecordBatch>, String> {
    if df.height() == 0 {
        return Ok(Vec::new());
    }
    df.align_chunks_par();
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut out = Vec::new();
    for chunk in df.iter_chunks(CompatLevel::newest(), false) {
        let pl_fields: Vec<_> = chunk.schema().iter_values().cloned().collect();
        let arrays = chunk.into_arrays();
        let mut cols: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
        for field in target.fields() {
            let i = names
                .iter()
                .position(|n| n == field.name())
                .ok_or_else(|| format!("column `{}` is missing from the data", field.name()))?;
            let arr = export(arrays[i].clone(), &pl_fields[i])?;
            let arr = if arr.data_type() == field.data_type() {
                arr
            } else if let (ArrowType::Timestamp(u1, _), ArrowType::Timestamp(u2, _)) =
                (arr.data_type(), field.data_type())
            {
                // Naive µs holding UTC instants → UTC µs: same values, only the label changes.
                // (arrow's cast would convert every value through a time zone.)
                if u1 != u2 {
                    return Err(format!(
                        "column `{}`: timestamp unit {u1:?} differs from the table's {u2:?}",
                        field.name()
                    ));
                }
                let data = arr
                    .to_data()
                    .into_builder()
                    .data_type(field.data_type().clone())
                    .build()
                    .map_err(|e| e.to_string())?;
                make_array(data)
            } else {
                cast_with_options(
                    &arr,
                    field.data_type(),
                    &CastOptions {
                        safe: false,
                        ..Default::default()
                    },
                )
                .map_err(|e| {
                    format!(
                        "column `{}`: cannot cast {} to {}: {e}",
                        field.name(),
                        arr.data_type(),
                        field.data_type()
                    )
                })?
            };
            cols.push(arr);
        }
        out.push(RecordBatch::try_new(Arc::clone(target), cols).map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// Moves one Polars array into arrow-rs through the C Data Interface.
fn export(
    arr: Box<dyn polars_arrow::array::Array>,
    field: &polars_arrow::datatypes::Field,
) -> Result<ArrayRef, String> {
    let c_array = polars_arrow::ffi::export_array_to_c(arr);
    let c_schema = polars_arrow::ffi::export_field_to_c(field);
    // SAFETY: both crates define these structs as the C Data Interface's `ArrowArray` and
    // `ArrowSchema` (`#[repr(C)]`, same fields), so the values are moved bit for bit; the
    // release callbacks travel with them and are called once by arrow-rs.
    let (c_array, c_schema): (FFI_ArrowArray, FFI_ArrowSchema) = unsafe {
        (
            std::mem::transmute::<polars_arrow::ffi::ArrowArray, FFI_ArrowArray>(c_array),
            std::mem::transmute::<polars_arrow::ffi::ArrowSchema, FFI_ArrowSchema>(c_schema),
        )
    };
    // SAFETY: the array and schema were just produced by a conforming exporter.
    let data = unsafe { from_ffi(c_array, &c_schema) }.map_err(|e| e.to_string())?;
    Ok(make_array(data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lake::schema::TableSchema;
    use deltalake::arrow::array::{Array, Int64Array, StringArray, TimestampMicrosecondArray};
    use polars::prelude::*;

    #[test]
    fn converts_and_casts_to_the_table_schema() {
        let ts = Series::new("t".into(), [1_700_000_000_000_000i64, 0])
            .cast(&DataType::Datetime(TimeUnit::Microseconds, None))
            .unwrap();
        let mut df = DataFrame::new_infer_height(vec![
            Series::new("a".into(), [1i64, 2]).into(),
            Series::new("s".into(), [Some("x"), None]).into(),
            ts.into(),
            Series::new("n".into(), [3u32, 4]).into(),
        ])
        .unwrap();
        let schema = TableSchema::from_polars(df.schema(), &[]).unwrap();
        let batches = to_record_batches(&mut df, &schema.arrow()).unwrap();
        assert_eq!(batches.len(), 1);
        let b = &batches[0];
        assert_eq!(b.num_rows(), 2);
        let s = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(s.value(0), "x");
        assert!(s.is_null(1));
        let t = b
            .column(2)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        assert_eq!(t.value(0), 1_700_000_000_000_000);
        assert_eq!(t.timezone(), Some("UTC"));
        let n = b.column(3).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(n.value(1), 4);
    }
}
