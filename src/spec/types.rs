//! Column types of a spec schema.

use std::fmt;
use std::str::FromStr;

use polars::prelude::{DataType, TimeUnit};

/// A column type: `long`, `int`, `double`, `string`, `boolean`, `timestamp`, `date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColumnType {
    /// 64-bit integer.
    Long,
    /// 32-bit integer.
    Int,
    /// 64-bit float.
    Double,
    /// UTF-8 string.
    String,
    /// Boolean.
    Boolean,
    /// Instant, microseconds, UTC.
    Timestamp,
    /// Calendar date.
    Date,
}

/// How Kafka payloads are encoded (`format:`). Decoding dispatches on it
/// (`bronze::decode::decode`): another format (Avro, Protobuf) is one more variant and one
/// more decoder, with no change to the ingest loop (kafka-delta-ingest's `MessageFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PayloadFormat {
    /// One JSON object per record.
    #[default]
    Json,
}

impl PayloadFormat {
    /// Every format name, for hints.
    pub const NAMES: &'static [&'static str] = &["json"];
}

impl FromStr for PayloadFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "json" => Ok(Self::Json),
            other => Err(format!("unsupported format `{other}`")),
        }
    }
}

/// Every type name, for hints.
pub const TYPE_NAMES: &[&str] = &[
    "long",
    "int",
    "double",
    "string",
    "boolean",
    "timestamp",
    "date",
];

impl FromStr for ColumnType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "long" | "bigint" | "int64" => Self::Long,
            "int" | "integer" | "int32" => Self::Int,
            "double" | "float64" => Self::Double,
            "string" | "str" => Self::String,
            "boolean" | "bool" => Self::Boolean,
            "timestamp" => Self::Timestamp,
            "date" => Self::Date,
            other => return Err(format!("unknown type `{other}`")),
        })
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Long => "long",
            Self::Int => "int",
            Self::Double => "double",
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Timestamp => "timestamp",
            Self::Date => "date",
        })
    }
}

impl ColumnType {
    /// The Polars type a column of this type has in a DataFrame. Timestamps are naive
    /// microseconds holding UTC instants; the lake bridge tags them UTC for Delta.
    pub fn polars(self) -> DataType {
        match self {
            Self::Long => DataType::Int64,
            Self::Int => DataType::Int32,
            Self::Double => DataType::Float64,
            Self::String => DataType::String,
            Self::Boolean => DataType::Boolean,
            Self::Timestamp => DataType::Datetime(TimeUnit::Microseconds, None),
            Self::Date => DataType::Date,
        }
    }

    /// The type the JSON decoder reads; timestamps and dates arrive as text and are parsed after.
    pub fn json_read(self) -> DataType {
        match self {
            Self::Timestamp | Self::Date => DataType::String,
            t => t.polars(),
        }
    }
}
