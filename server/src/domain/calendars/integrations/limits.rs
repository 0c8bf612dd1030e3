//! The spec's defaults and bounds for a calendar record's fields.
pub const PAST_DAYS_DEFAULT: i64 = 30;
pub const PAST_DAYS_MAX: i64 = 365;
pub const FUTURE_DAYS_DEFAULT: i64 = 90;
pub const FUTURE_DAYS_MAX: i64 = 730;
pub const INTERVAL_DEFAULT: i64 = 15;
pub const INTERVAL_MIN: i64 = 5;
pub const INTERVAL_MAX: i64 = 1440;
pub const NAME_MAX: usize = 140;
pub const URL_MAX: usize = 2048;
pub const CALENDAR_ID_MAX: usize = 1024;
pub const TOKEN_MAX: usize = 8192;
