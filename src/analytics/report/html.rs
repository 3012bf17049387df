//! The report as one printable HTML page: no scripts, styles inline, charts as inline SVG drawn on the server.

use std::fmt::Write;

use super::charts;
use crate::analytics::views::{QuestionGroup, WeeklyReport};

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;color:#111;max-width:60rem;margin:2rem auto;padding:0 1rem}\
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}\
.tiles{display:flex;flex-wrap:wrap;gap:.75rem;margin:1rem 0}.tile{border:1px solid #ddd;border-radius:6px;\
padding:.5rem .9rem;min-width:8rem}.tile b{display:block;font-size:1.5rem}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eee}td.n{text-align:right}\
.muted{color:#555}svg{max-width:100%;height:auto}@media print{body{margin:0}h2{break-after:avoid}}";

fn groups(out: &mut String, title: &str, empty: &str, list: &[QuestionGroup]) {
    let _ = write!(out, "<h2>{}</h2>", esc(title));
    if list.is_empty() {
        let _ = write!(out, "<p class=\"muted\">{}</p>", esc(empty));
        return;
    }
    out.push_str(
        "<table><thead><tr><th>Question</th><th>Asked</th><th>Students</th><th>Answered</th>\
                  <th>Not covered</th><th>Cited</th></tr></thead><tbody>",
    );
    for g in list {
        let examples: Vec<String> = g.examples.iter().skip(1).map(|e| esc(e)).collect();
        let documents: Vec<String> = g.documents.iter().map(|d| esc(&d.name)).collect();
        let _ = write!(
            out,
            "<tr><td>{}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&g.label),
            if examples.is_empty() {
                String::new()
            } else {
                format!("<br><span class=\"muted\">{}</span>", examples.join("; "))
            },
            g.questions,
            g.students,
            g.answered,
            g.not_covered,
            documents.join(", "),
        );
    }
    out.push_str("</tbody></table>");
}

pub fn html(report: &WeeklyReport) -> String {
    let t = &report.engagement.totals;
    let mut out = String::with_capacity(32 * 1024);
    let title = format!("Weekly report {} · {}", report.week, report.org_name);
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style>\
         </head><body><h1>{}</h1><p class=\"muted\">{} to {} ({}) · generated {}</p>",
        esc(&title),
        esc(&title),
        report.from,
        report.to,
        esc(&report.time_zone),
        report.generated_at.format("%Y-%m-%d %H:%M UTC"),
    );
    let median = t.median_session_seconds.map_or_else(|| "–".to_owned(), |s| format!("{:.0} min", s / 60.0));
    let tiles = [
        ("Active students", t.active_students.to_string()),
        ("Messages", t.messages.to_string()),
        ("Sessions", t.sessions.to_string()),
        ("Median session", median),
        ("Not covered", t.questions_not_covered.to_string()),
        ("Safety flags", t.flagged.to_string()),
    ];
    out.push_str("<div class=\"tiles\">");
    for (label, value) in tiles {
        let _ = write!(out, "<div class=\"tile\"><b>{}</b>{}</div>", esc(&value), esc(label));
    }
    out.push_str("</div><h2>Activity per day</h2>");
    out.push_str(&charts::days(&report.engagement.days));
    if !report.engagement.top_personas.is_empty() {
        out.push_str("<h2>Tutors by messages</h2>");
        let items: Vec<(String, u64)> =
            report.engagement.top_personas.iter().map(|p| (p.name.clone(), p.messages)).collect();
        out.push_str(&charts::bars(&items));
    }
    if !report.engagement.top_documents.is_empty() {
        out.push_str("<h2>Most-cited documents</h2>");
        let items: Vec<(String, u64)> =
            report.engagement.top_documents.iter().map(|d| (d.name.clone(), d.citations)).collect();
        out.push_str(&charts::bars(&items));
    }
    out.push_str(
        "<h2>Students</h2><table><thead><tr><th>Student</th><th>Messages</th><th>Sessions</th>\
                  <th>Not covered</th><th>Days active</th><th>Last active</th></tr></thead><tbody>",
    );
    for s in &report.students {
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&s.name),
            s.messages,
            s.sessions,
            s.not_covered,
            s.days_active,
            s.last_active.map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_else(|| "–".into()),
        );
    }
    out.push_str("</tbody></table>");
    groups(&mut out, "Where students were stuck", "No question was asked by several students.", &report.stuck);
    groups(&mut out, "Not covered by the material", "Every question found an answer in the material.", &report.gaps);
    out.push_str("</body></html>");
    out
}
