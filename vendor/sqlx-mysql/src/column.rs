use crate::ext::ustr::UStr;
use crate::protocol::text::ColumnFlags;
use crate::{MySql, MySqlTypeInfo};
pub(crate) use sqlx_core::column::*;

#[derive(Debug, Clone)]
#[cfg_attr(feature = "offline", derive(serde::Serialize, serde::Deserialize))]
pub struct MySqlColumn {
    pub(crate) ordinal: usize,
    pub(crate) name: UStr,
    pub(crate) type_info: MySqlTypeInfo,

    #[cfg_attr(feature = "offline", serde(skip))]
    pub(crate) flags: Option<ColumnFlags>,

    /// sqlcourier patch: the column definition's character set / collation id
    /// (63 = `binary`), which upstream reads from the wire and drops.
    #[cfg_attr(feature = "offline", serde(skip))]
    pub(crate) collation: Option<u16>,
}

impl MySqlColumn {
    /// sqlcourier patch: the collation id the server sent in the column definition
    /// (`None` when the column was not built from one).
    pub fn collation_id(&self) -> Option<u16> {
        self.collation
    }

    /// sqlcourier patch: true when the column's character set is `binary` (collation
    /// id 63): BINARY, VARBINARY, BLOB and binary string expressions, as opposed to text
    /// with a `_bin` collation, which carries the same BINARY flag.
    pub fn is_binary_charset(&self) -> bool {
        self.collation == Some(63)
    }
}

impl Column for MySqlColumn {
    type Database = MySql;

    fn ordinal(&self) -> usize {
        self.ordinal
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn type_info(&self) -> &MySqlTypeInfo {
        &self.type_info
    }
}
