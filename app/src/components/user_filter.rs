//! Admins: "Show calendars of [user]", a plain GET form so it works before hydration too.
use leptos::prelude::*;

#[component]
pub fn UserFilter(action: &'static str, users: Vec<String>, selected: Option<String>) -> impl IntoView {
    let id = format!("filter-user{}", action.replace('/', "-"));
    view! {
        <form method="get" action=action class="filter">
            <label for=id.clone()>"Show calendars of"</label>
            <select id=id name="user">
                <option value="" selected=selected.is_none()>"All users"</option>
                {users.into_iter().map(|u| {
                    let sel = selected.as_deref() == Some(u.as_str());
                    view! { <option value=u.clone() selected=sel>{u.clone()}</option> }
                }).collect_view()}
            </select>
            <button type="submit" class="button">"Show"</button>
        </form>
    }
}
