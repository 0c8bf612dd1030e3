pub mod admin_users;
pub mod calendar_form;
pub mod calendars;
pub mod home;
pub mod login;
pub mod not_found;
pub mod profile;
pub mod tokens;
