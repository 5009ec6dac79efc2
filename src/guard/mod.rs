//! Guards between a reviewed file and a database: the read-only statement check,
//! parameters and their values, periods and time limits.

pub mod allow;
pub mod lineage;
pub mod names;
pub mod params;
pub mod period;
pub mod personal;
pub mod render;
pub mod scope;
pub mod statement;
pub mod timeout;
