pub mod form;
pub mod header;
pub mod notices;
pub mod poll;
pub mod run_chart;
