pub mod admin_tabs;
pub mod form;
pub mod header;
pub mod notices;
pub mod poll;
pub mod run_chart;
pub mod user_filter;
