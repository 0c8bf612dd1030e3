//! Live pages without a reload: while something is running, bump a counter every so often so
//! the resources keyed on it fetch again (in the browser only; effects do not run on the server).
use leptos::prelude::*;

pub fn poll_while(active: Signal<bool>, tick: RwSignal<u32>, every: std::time::Duration) {
    Effect::new(move |_| {
        tick.track();
        if active.get() {
            set_timeout(move || tick.update(|t| *t += 1), every);
        }
    });
}
