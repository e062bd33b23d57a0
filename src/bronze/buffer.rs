//! The micro-batch buffer: Kafka payloads copied once into one contiguous NDJSON buffer,
//! with each record's partition, offset and timestamp alongside.

use crate::kafka::consumer::RecordSink;

/// One consumed record.
#[derive(Debug, Clone, Copy)]
pub struct RecordMeta {
    /// Kafka partition.
    pub partition: i32,
    /// Kafka offset.
    pub offset: i64,
    /// Kafka timestamp (ms), if any.
    pub timestamp_ms: Option<i64>,
    /// Index of its line in the NDJSON buffer; None for empty payloads and tombstones.
    pub line: Option<u32>,
}

/// A micro-batch of records.
#[derive(Debug, Default)]
pub struct BatchBuffer {
    /// The NDJSON buffer: one line per record with a payload.
    pub ndjson: Vec<u8>,
    /// Byte range of each line in `ndjson` (without the newline).
    pub lines: Vec<(usize, usize)>,
    /// Every record, in poll order.
    pub records: Vec<RecordMeta>,
    /// Original payloads of records whose bytes had to be changed (raw newlines).
    pub originals: Vec<(u32, Vec<u8>)>,
    /// Payload bytes consumed.
    pub payload_bytes: usize,
}

impl BatchBuffer {
    /// Empties the buffer, keeping its allocations.
    pub fn clear(&mut self) {
        self.ndjson.clear();
        self.lines.clear();
        self.records.clear();
        self.originals.clear();
        self.payload_bytes = 0;
    }

    /// True when no record was consumed.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The payload of a line as it was received.
    pub fn raw_line(&self, line: u32) -> &[u8] {
        if let Ok(i) = self.originals.binary_search_by_key(&line, |(l, _)| *l) {
            return &self.originals[i].1;
        }
        let (s, e) = self.lines[line as usize];
        &self.ndjson[s..e]
    }
}

impl RecordSink for BatchBuffer {
    fn push(
        &mut self,
        partition: i32,
        offset: i64,
        timestamp_ms: Option<i64>,
        payload: Option<&[u8]>,
    ) {
        let payload = payload.unwrap_or_default();
        self.payload_bytes += payload.len();
        let blank = payload.iter().all(|b| b.is_ascii_whitespace());
        let line = if blank {
            None
        } else {
            let idx = self.lines.len() as u32;
            let start = self.ndjson.len();
            self.ndjson.extend_from_slice(payload);
            // JSON allows raw newlines only as whitespace between tokens, so turning them into
            // spaces keeps one record per line without changing what a valid record means.
            if memchr_any(payload) {
                for b in &mut self.ndjson[start..] {
                    if *b == b'\n' || *b == b'\r' {
                        *b = b' ';
                    }
                }
                self.originals.push((idx, payload.to_vec()));
            }
            self.lines.push((start, self.ndjson.len()));
            self.ndjson.push(b'\n');
            Some(idx)
        };
        self.records.push(RecordMeta {
            partition,
            offset,
            timestamp_ms,
            line,
        });
    }
}

fn memchr_any(p: &[u8]) -> bool {
    p.iter().any(|&b| b == b'\n' || b == b'\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_record_and_originals_kept() {
        let mut b = BatchBuffer::default();
        b.push(0, 1, None, Some(b"{\"a\":1}"));
        b.push(0, 2, None, None);
        b.push(1, 7, Some(5), Some(b"{\"a\":\n2}"));
        assert_eq!(b.ndjson, b"{\"a\":1}\n{\"a\": 2}\n");
        assert_eq!(b.records.len(), 3);
        assert_eq!(b.records[1].line, None);
        assert_eq!(b.raw_line(1), b"{\"a\":\n2}");
        assert_eq!(b.raw_line(0), b"{\"a\":1}");
    }
}
