//! How results are printed: Docker's humanized times and sizes, tab-aligned tables, and `--format` Go templates.

pub mod humanize;
pub mod table;
pub mod template;
