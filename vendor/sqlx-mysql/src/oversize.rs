//! sqlcourier patch (SQLCOURIER-PATCH.md): the error for a result row larger than
//! [`crate::MySqlConnection::set_max_packet_bytes`], and which of its cells made it so.

use sqlx_core::bytes::Bytes;

use crate::protocol::text::ColumnType;
use crate::MySqlColumn;

/// A packet larger than the connection's limit. Only its first part(s) were kept
/// (`prefix`); the rest was read and dropped, so the connection is still in step.
#[derive(Debug)]
pub struct PacketTooLarge {
    pub(crate) prefix: Bytes,
    pub(crate) len: usize,
}

impl std::fmt::Display for PacketTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a packet of {} bytes is larger than the limit", self.len)
    }
}

impl std::error::Error for PacketTooLarge {}

impl PacketTooLarge {
    /// The whole packet's size.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was received (never, for a refused packet).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// For a binary-protocol result row (a prepared statement's) of `columns`: the
    /// first cell whose length is more than `limit`, as (column index, length), read
    /// from the cells' length headers in the kept prefix. A cell's header lies in the
    /// prefix whenever the cells before it are no longer than `limit` each and the
    /// prefix is longer than all of them. `None` if no such header is in the prefix.
    pub fn oversized_binary_cell(&self, columns: &[MySqlColumn], limit: u64) -> Option<(usize, u64)> {
        let b = &self.prefix[..];
        // header byte 0x00, then the NULL bitmap with an offset of 2 bits
        if b.first() != Some(&0) {
            return None;
        }
        let bitmap_len = (columns.len() + 7 + 2) / 8;
        let bitmap = b.get(1..1 + bitmap_len)?;
        let mut at = 1 + bitmap_len;
        for (i, c) in columns.iter().enumerate() {
            let bit = i + 2;
            if bitmap[bit / 8] & (1 << (bit % 8)) != 0 {
                continue;
            }
            let len = match c.type_info.r#type {
                ColumnType::Null => 0,
                ColumnType::Tiny => 1,
                ColumnType::Short | ColumnType::Year => 2,
                ColumnType::Long | ColumnType::Int24 | ColumnType::Float => 4,
                ColumnType::LongLong | ColumnType::Double => 8,
                ColumnType::Date | ColumnType::Datetime | ColumnType::Timestamp | ColumnType::Time => {
                    let n = *b.get(at)? as u64;
                    at += 1;
                    n
                }
                _ => {
                    let (n, used) = lenenc(b.get(at..)?)?;
                    at += used;
                    if n > limit {
                        return Some((i, n));
                    }
                    n
                }
            };
            at = at.checked_add(usize::try_from(len).ok()?)?;
            if at > b.len() {
                return None;
            }
        }
        None
    }
}

/// A length-encoded integer: (value, bytes used).
fn lenenc(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let width = match first {
        0xfc => 2,
        0xfd => 3,
        0xfe => 8,
        0xfb | 0xff => return None,
        n => return Some((n as u64, 1)),
    };
    let bytes = b.get(1..1 + width)?;
    let mut v = 0u64;
    for (k, &x) in bytes.iter().enumerate() {
        v |= (x as u64) << (8 * k);
    }
    Some((v, 1 + width))
}
