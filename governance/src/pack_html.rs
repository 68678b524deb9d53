//! The review pack as one HTML file: inline CSS and SVG charts, nothing
//! fetched from the network, and a print stylesheet so that it reads on
//! paper as it does on screen.

use std::fmt::Write;

use crate::review::{Pack, Section, Series, Table};

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;\
color:#1d2430;max-width:1100px;margin:2em auto;padding:0 1.5em}\
h1{font-size:1.7em;margin-bottom:.2em}h2{margin-top:2em;border-bottom:2px solid #dde3ea;\
padding-bottom:.2em}h3{font-size:1em;margin:1.2em 0 .4em}.meta{color:#5a6473}\
table{border-collapse:collapse;width:100%;margin:.4em 0 1em;font-size:.92em}\
th,td{border:1px solid #dde3ea;padding:.3em .5em;text-align:left;vertical-align:top}\
th{background:#f3f6f9}td.n{text-align:right;font-variant-numeric:tabular-nums}\
nav ol{columns:2}svg{max-width:100%;height:auto}\
@media print{body{margin:0;max-width:none;font-size:11px}nav{display:none}\
section{break-inside:avoid-page}h2{break-after:avoid}tr{break-inside:avoid}}";

/// The pack as a complete HTML document.
pub fn render(pack: &Pack, generated_at: &str) -> String {
    let mut html = String::new();
    let title = format!("AI governance review {}", pack.quarter);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\
         <h1>{title}</h1><p class=\"meta\">{} to {} (UTC), generated {} by aitrail review \
         from the audit trail and the governance policy.</p><nav><ol>",
        pack.quarter.start(),
        pack.quarter.end().pred_opt().unwrap_or(pack.quarter.end()),
        escape(generated_at)
    );
    for (n, section) in pack.sections.iter().enumerate() {
        let _ = write!(
            html,
            "<li><a href=\"#s{n}\">{}</a></li>",
            escape(&section.title)
        );
    }
    html.push_str("</ol></nav>");
    for (n, section) in pack.sections.iter().enumerate() {
        render_section(&mut html, n, section);
    }
    html.push_str("</body></html>\n");
    html
}

fn render_section(html: &mut String, n: usize, section: &Section) {
    let _ = write!(
        html,
        "<section id=\"s{n}\"><h2>{}</h2><p>{}</p>",
        escape(&section.title),
        escape(&section.note)
    );
    if let Some(series) = &section.chart {
        html.push_str(&bar_chart(series));
    }
    for (caption, table) in &section.tables {
        if !caption.is_empty() {
            let _ = write!(html, "<h3>{}</h3>", escape(caption));
        }
        render_table(html, table);
    }
    html.push_str("</section>");
}

fn render_table(html: &mut String, table: &Table) {
    if table.rows.is_empty() {
        html.push_str("<p class=\"meta\">None.</p>");
        return;
    }
    html.push_str("<table><thead><tr>");
    for column in &table.columns {
        let _ = write!(html, "<th>{}</th>", escape(column));
    }
    html.push_str("</tr></thead><tbody>");
    for row in &table.rows {
        html.push_str("<tr>");
        for value in row {
            let numeric = !value.is_empty()
                && value
                    .trim_start_matches(['+', '-'])
                    .trim_end_matches(" %")
                    .parse::<f64>()
                    .is_ok();
            let class = if numeric { " class=\"n\"" } else { "" };
            let _ = write!(html, "<td{class}>{}</td>", escape(value));
        }
        html.push_str("</tr>");
    }
    html.push_str("</tbody></table>");
}

/// A horizontal bar chart as inline SVG, one bar per point, labelled with
/// its value.
fn bar_chart(series: &Series) -> String {
    let row = 22.0;
    let (label_width, bar_width) = (190.0, 560.0);
    let height = row * series.points.len() as f64 + 30.0;
    let max = series
        .points
        .iter()
        .map(|(_, v)| *v)
        .fold(0.0_f64, f64::max)
        .max(1.0);
    let mut svg = format!(
        "<figure><svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" viewBox=\"0 0 {} {height}\" \
         width=\"{}\" aria-label=\"{}\"><text x=\"0\" y=\"14\" font-size=\"13\" \
         font-weight=\"600\">{}</text>",
        label_width + bar_width + 80.0,
        label_width + bar_width + 80.0,
        escape(&series.title),
        escape(&series.title)
    );
    for (n, (label, value)) in series.points.iter().enumerate() {
        let y = 26.0 + row * n as f64;
        let width = (value / max * bar_width).max(if *value > 0.0 { 1.0 } else { 0.0 });
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_width}\" y=\"{y}\" width=\"{width:.1}\" height=\"{}\" fill=\"#3b6ea5\"/>\
             <text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{}</text>",
            label_width - 8.0,
            y + 13.0,
            escape(label),
            row - 6.0,
            label_width + width + 6.0,
            y + 13.0,
            format_value(*value)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn format_value(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// Text as HTML text or attribute value.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
