//! What counts as busy. Every event has one kind — the first of [`Kind::ALL`] that applies,
//! read the same way from Google, Graph and iCalendar — and each calendar's [`Rules`] say
//! which kinds block its owner's time, plus title patterns that make an event free whatever
//! its kind. The adapters classify (they read the provider's fields into [`Signals`]); the
//! store applies the rules, so a change of rules needs no sync.
use std::collections::BTreeMap;

/// The kinds, in the order they are tried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Declined,
    Unanswered,
    OutOfOffice,
    WorkingElsewhere,
    Free,
    Tentative,
    AllDay,
    Busy,
}

impl Kind {
    pub const ALL: [Kind; 8] =
        [Kind::Declined, Kind::Unanswered, Kind::OutOfOffice, Kind::WorkingElsewhere, Kind::Free, Kind::Tentative, Kind::AllDay, Kind::Busy];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Declined => "declined",
            Kind::Unanswered => "unanswered",
            Kind::OutOfOffice => "out_of_office",
            Kind::WorkingElsewhere => "working_elsewhere",
            Kind::Free => "free",
            Kind::Tentative => "tentative",
            Kind::AllDay => "all_day",
            Kind::Busy => "busy",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }

    /// What the form calls it.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Declined => "Invitations you declined",
            Kind::Unanswered => "Invitations you have not answered",
            Kind::OutOfOffice => "Out of office",
            Kind::WorkingElsewhere => "Working elsewhere (working location)",
            Kind::Free => "Events shown as free",
            Kind::Tentative => "Tentative events",
            Kind::AllDay => "All-day events",
            Kind::Busy => "Other events",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The first kind that applies.
    pub fn of(s: &Signals) -> Kind {
        match (s.response, s.show) {
            (Some(Response::Declined), _) => Kind::Declined,
            (Some(Response::Unanswered), _) => Kind::Unanswered,
            (_, Some(Show::OutOfOffice)) => Kind::OutOfOffice,
            (_, Some(Show::WorkingElsewhere)) => Kind::WorkingElsewhere,
            _ if s.transparent || s.show == Some(Show::Free) => Kind::Free,
            _ if s.tentative || s.show == Some(Show::Tentative) || s.response == Some(Response::Tentative) => Kind::Tentative,
            _ if s.all_day => Kind::AllDay,
            _ => Kind::Busy,
        }
    }
}

/// The calendar owner's answer to an invitation (none when they organise it or are not
/// invited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response {
    Declined,
    Unanswered,
    Tentative,
    Accepted,
}

impl Response {
    /// An iCalendar PARTSTAT (RFC 5545 §3.2.12; absent means NEEDS-ACTION).
    pub fn of_partstat(p: Option<&str>) -> Response {
        match p.map(|p| p.trim().to_ascii_uppercase()).as_deref() {
            None | Some("NEEDS-ACTION") => Response::Unanswered,
            Some("DECLINED") => Response::Declined,
            Some("TENTATIVE") => Response::Tentative,
            _ => Response::Accepted,
        }
    }

    pub fn as_partstat(self) -> &'static str {
        match self {
            Response::Declined => "DECLINED",
            Response::Unanswered => "NEEDS-ACTION",
            Response::Tentative => "TENTATIVE",
            Response::Accepted => "ACCEPTED",
        }
    }
}

/// How the event shows the owner's time: Graph's `showAs`, Microsoft's
/// `X-MICROSOFT-CDO-BUSYSTATUS`, Google's `eventType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Show {
    Free,
    Tentative,
    Busy,
    OutOfOffice,
    WorkingElsewhere,
}

impl Show {
    /// `X-MICROSOFT-CDO-BUSYSTATUS` values.
    pub fn of_busystatus(s: &str) -> Option<Show> {
        match s.trim().to_ascii_uppercase().as_str() {
            "FREE" => Some(Show::Free),
            "TENTATIVE" => Some(Show::Tentative),
            "BUSY" => Some(Show::Busy),
            "OOF" => Some(Show::OutOfOffice),
            "WORKINGELSEWHERE" => Some(Show::WorkingElsewhere),
            _ => None,
        }
    }

    pub fn as_busystatus(self) -> &'static str {
        match self {
            Show::Free => "FREE",
            Show::Tentative => "TENTATIVE",
            Show::Busy => "BUSY",
            Show::OutOfOffice => "OOF",
            Show::WorkingElsewhere => "WORKINGELSEWHERE",
        }
    }

    /// Graph's `showAs` (`unknown` says nothing).
    pub fn of_show_as(s: &str) -> Option<Show> {
        match s {
            "free" => Some(Show::Free),
            "tentative" => Some(Show::Tentative),
            "busy" => Some(Show::Busy),
            "oof" => Some(Show::OutOfOffice),
            "workingElsewhere" => Some(Show::WorkingElsewhere),
            _ => None,
        }
    }
}

/// What an adapter read of one event, to classify it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    pub response: Option<Response>,
    pub show: Option<Show>,
    /// TRANSP:TRANSPARENT, Google `transparency: transparent`.
    pub transparent: bool,
    /// STATUS:TENTATIVE, Google `status: tentative`.
    pub tentative: bool,
    pub all_day: bool,
}

/// Whose calendar it is: the addresses an invitation to its owner is sent to (compared
/// ignoring case).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    addresses: Vec<String>,
}

impl Owner {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(addresses: I) -> Owner {
        let mut out: Vec<String> = addresses.into_iter().map(|a| a.as_ref().trim().to_lowercase()).filter(|a| !a.is_empty()).collect();
        out.sort();
        out.dedup();
        Owner { addresses: out }
    }

    /// An address (`mailto:` or not) is the owner's.
    pub fn is(&self, address: &str) -> bool {
        let a = address.trim();
        let a = a.to_lowercase();
        let a = a.strip_prefix("mailto:").unwrap_or(&a);
        self.addresses.iter().any(|o| o == a)
    }

    pub fn with(mut self, more: impl IntoIterator<Item = String>) -> Owner {
        self.addresses.extend(more.into_iter().map(|a| a.trim().to_lowercase()).filter(|a| !a.is_empty()));
        self.addresses.sort();
        self.addresses.dedup();
        self
    }

    pub fn addresses(&self) -> &[String] {
        &self.addresses
    }
}

/// Whether a kind blocks time: the two values a rule takes.
pub const BUSY: &str = "busy";
pub const FREE: &str = "free";

/// At most this many title patterns, each at most this long.
pub const MAX_PATTERNS: usize = 50;
pub const MAX_PATTERN_LEN: usize = 200;

/// A calendar's rules: which kinds block, and the title patterns that make an event free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    blocks: [bool; 8],
    /// As entered (trimmed); matched ignoring case.
    patterns: Vec<String>,
    lowered: Vec<String>,
}

impl Default for Rules {
    /// The same for every provider: declined, working-elsewhere and free events do not block.
    fn default() -> Rules {
        Rules::new(Kind::ALL.map(|k| !matches!(k, Kind::Declined | Kind::WorkingElsewhere | Kind::Free)), Vec::new())
    }
}

impl Rules {
    fn new(blocks: [bool; 8], patterns: Vec<String>) -> Rules {
        let lowered = patterns.iter().map(|p| p.to_lowercase()).collect();
        Rules { blocks, patterns, lowered }
    }

    /// The stored form (`busy_rules` JSON, `free_title_patterns` JSON); anything unreadable
    /// reads as the default.
    pub fn from_stored(rules: &str, patterns: &str) -> Rules {
        let mut out = Rules::default();
        if let Ok(map) = serde_json::from_str::<BTreeMap<String, String>>(rules) {
            for (k, v) in map {
                if let Some(kind) = Kind::parse(&k) {
                    out.blocks[kind.index()] = v == BUSY;
                }
            }
        }
        let patterns: Vec<String> = serde_json::from_str(patterns).unwrap_or_default();
        Rules::new(out.blocks, patterns)
    }

    pub fn rules_json(&self) -> String {
        serde_json::to_string(&self.map()).unwrap_or_default()
    }

    pub fn patterns_json(&self) -> String {
        serde_json::to_string(&self.patterns).unwrap_or_default()
    }

    /// Every kind with `busy` or `free`, in order.
    pub fn map(&self) -> BTreeMap<&'static str, &'static str> {
        Kind::ALL.into_iter().map(|k| (k.as_str(), if self.kind_blocks(k) { BUSY } else { FREE })).collect()
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    pub fn kind_blocks(&self, kind: Kind) -> bool {
        self.blocks[kind.index()]
    }

    pub fn set(&mut self, kind: Kind, blocks: bool) {
        self.blocks[kind.index()] = blocks;
    }

    /// The title pattern that makes `summary` free, if any.
    pub fn pattern_in(&self, summary: &str) -> Option<&str> {
        if self.lowered.is_empty() {
            return None;
        }
        let s = summary.to_lowercase();
        self.lowered.iter().position(|p| s.contains(p.as_str())).map(|i| self.patterns[i].as_str())
    }

    /// Whether an event blocks time: not cancelled, its kind blocks, and no pattern frees it.
    pub fn blocks(&self, kind: Kind, cancelled: bool, summary: &str) -> bool {
        !cancelled && self.kind_blocks(kind) && self.pattern_in(summary).is_none()
    }

    /// Lays a partial change over these rules: `(kind, value)` pairs as sent. Every pair that
    /// cannot be read is a message naming the kind; then nothing changes.
    pub fn patched(&self, changes: &[(String, String)]) -> Result<Rules, Vec<String>> {
        let mut out = self.clone();
        let mut errors = Vec::new();
        for (k, v) in changes {
            match (Kind::parse(k), v.trim()) {
                (None, _) => errors.push(format!("'{}' is not a kind of event. Use one of {}.", k.trim(), Kind::ALL.map(Kind::as_str).join(", "))),
                (Some(kind), BUSY) => out.set(kind, true),
                (Some(kind), FREE) => out.set(kind, false),
                (Some(kind), other) => errors.push(format!("The rule for '{}' must be \"busy\" or \"free\", not \"{other}\".", kind.as_str())),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// New title patterns (blank ones dropped); too many or too long ones are messages.
    pub fn with_patterns(&self, patterns: &[String]) -> Result<Rules, Vec<String>> {
        let kept: Vec<String> = patterns.iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect();
        let mut errors = Vec::new();
        if kept.len() > MAX_PATTERNS {
            errors.push(format!("At most {MAX_PATTERNS} title patterns; {} were given.", kept.len()));
        }
        errors.extend(kept.iter().filter(|p| p.chars().count() > MAX_PATTERN_LEN).map(|p| {
            let head: String = p.chars().take(20).collect();
            format!("The title pattern '{head}…' is longer than {MAX_PATTERN_LEN} characters.")
        }));
        if errors.is_empty() {
            Ok(Rules::new(self.blocks, kept))
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals() -> Signals {
        Signals::default()
    }

    #[test]
    fn the_first_kind_that_applies_wins() {
        assert_eq!(Kind::of(&signals()), Kind::Busy);
        assert_eq!(Kind::of(&Signals { all_day: true, ..signals() }), Kind::AllDay);
        assert_eq!(Kind::of(&Signals { all_day: true, tentative: true, ..signals() }), Kind::Tentative);
        assert_eq!(Kind::of(&Signals { transparent: true, tentative: true, ..signals() }), Kind::Free);
        assert_eq!(Kind::of(&Signals { transparent: true, show: Some(Show::WorkingElsewhere), ..signals() }), Kind::WorkingElsewhere);
        assert_eq!(Kind::of(&Signals { show: Some(Show::OutOfOffice), response: Some(Response::Unanswered), ..signals() }), Kind::Unanswered);
        assert_eq!(Kind::of(&Signals { show: Some(Show::OutOfOffice), response: Some(Response::Declined), ..signals() }), Kind::Declined);
        assert_eq!(Kind::of(&Signals { response: Some(Response::Tentative), ..signals() }), Kind::Tentative);
        assert_eq!(Kind::of(&Signals { response: Some(Response::Accepted), show: Some(Show::Busy), ..signals() }), Kind::Busy);
    }

    #[test]
    fn defaults_and_patterns() {
        let r = Rules::default();
        let free: Vec<&str> = Kind::ALL.into_iter().filter(|k| !r.kind_blocks(*k)).map(Kind::as_str).collect();
        assert_eq!(free, ["declined", "working_elsewhere", "free"]);
        let r = r.with_patterns(&["[free]".into(), " ".into(), "Lunch?".into()]).unwrap();
        assert!(!r.blocks(Kind::Busy, false, "LUNCH? with Ana"));
        assert!(!r.blocks(Kind::Busy, false, "Standup [FREE]"));
        assert!(r.blocks(Kind::Busy, false, "Lunch"));
        assert!(!r.blocks(Kind::Busy, true, "Planning"));
        assert_eq!(r.patterns(), ["[free]", "Lunch?"]);
        let back = Rules::from_stored(&r.rules_json(), &r.patterns_json());
        assert_eq!(back, r);
    }

    #[test]
    fn a_partial_change_names_what_it_cannot_read() {
        let r = Rules::default().patched(&[("tentative".into(), "free".into())]).unwrap();
        assert!(!r.kind_blocks(Kind::Tentative) && r.kind_blocks(Kind::Busy));
        let e = r.patched(&[("maybe".into(), "busy".into()), ("declined".into(), "sometimes".into())]).unwrap_err();
        assert_eq!(e.len(), 2);
        assert!(e[0].starts_with("'maybe' is not a kind of event."), "{e:?}");
        assert_eq!(e[1], "The rule for 'declined' must be \"busy\" or \"free\", not \"sometimes\".");
    }

    #[test]
    fn owners_match_ignoring_case_and_mailto() {
        let o = Owner::new(["Ana@Example.com"]);
        assert!(o.is("mailto:ana@example.com") && o.is("ANA@example.COM") && !o.is("bob@example.com"));
    }
}
