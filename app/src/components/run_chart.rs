//! The last runs of a calendar as a small server-rendered SVG bar chart: height by duration,
//! colour by outcome, a tooltip per bar.
use crate::api::sync::RunBar;
use leptos::prelude::*;

const WIDTH: f64 = 300.0;
const HEIGHT: f64 = 44.0;
const SLOTS: f64 = 50.0;

#[component]
pub fn RunChart(bars: Vec<RunBar>) -> impl IntoView {
    if bars.is_empty() {
        return view! { <p class="muted small">"No runs yet."</p> }.into_any();
    }
    let max = bars.iter().map(|b| b.duration_ms).max().unwrap_or(1).max(1) as f64;
    let failed = bars.iter().filter(|b| b.outcome == "failed").count();
    let summary = format!("Last {} runs: {} succeeded, {} failed. Bar height is the run's duration.", bars.len(), bars.len() - failed, failed);
    let label = summary.clone();
    let slot = WIDTH / SLOTS;
    let offset = WIDTH - slot * bars.len() as f64;
    view! {
        <svg class="run-chart" viewBox=format!("0 0 {WIDTH} {HEIGHT}") width=WIDTH height=HEIGHT role="img" aria-label=label data-test="run-chart">
            <title>{summary}</title>
            <line x1="0" y1=HEIGHT - 0.5 x2=WIDTH y2=HEIGHT - 0.5 class="axis"/>
            {bars.into_iter().enumerate().map(|(n, b)| {
                // Square root, so a slow run does not flatten every other bar.
                let h = 4.0 + (HEIGHT - 6.0) * (b.duration_ms as f64 / max).sqrt();
                view! {
                    <rect x=offset + n as f64 * slot y=HEIGHT - h width=slot - 1.5 height=h class=format!("bar bar-{}", b.outcome)>
                        <title>{b.label}</title>
                    </rect>
                }
            }).collect_view()}
        </svg>
    }
    .into_any()
}
