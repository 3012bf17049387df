//! Charts drawn on the server as SVG with plotters, for the printable report and its mail.

use plotters::prelude::*;

use crate::analytics::views::DayCounts;

const BLUE: RGBColor = RGBColor(37, 99, 235);
const GREEN: RGBColor = RGBColor(22, 163, 74);

/// Messages and active students per day, as lines.
pub fn days(days: &[DayCounts]) -> String {
    let mut svg = String::new();
    let max = days.iter().map(|d| d.messages.max(d.active_students)).max().unwrap_or(0).max(1);
    let n = days.len().max(1);
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (720, 260)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(28)
            .y_label_area_size(40)
            .build_cartesian_2d(0..n - 1, 0..max + max / 10 + 1)?;
        chart
            .configure_mesh()
            .x_labels(n.min(8))
            .x_label_formatter(&|i| days.get(*i).map(|d| d.day.format("%a %d").to_string()).unwrap_or_default())
            .light_line_style(RGBColor(235, 235, 235))
            .draw()?;
        chart
            .draw_series(LineSeries::new(days.iter().enumerate().map(|(i, d)| (i, d.messages)), BLUE.stroke_width(2)))?
            .label("messages")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLUE.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                days.iter().enumerate().map(|(i, d)| (i, d.active_students)),
                GREEN.stroke_width(2),
            ))?
            .label("active students")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], GREEN.stroke_width(2)));
        chart.configure_series_labels().border_style(BLACK.mix(0.2)).background_style(WHITE.mix(0.9)).draw()?;
        root.present()?;
        Ok(())
    })();
    if let Err(err) = drawn {
        tracing::warn!(error = %err, "drawing the days chart");
    }
    svg
}

/// Horizontal bars, one per `(label, value)`.
pub fn bars(items: &[(String, u64)]) -> String {
    let mut svg = String::new();
    if items.is_empty() {
        return svg;
    }
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let height = 40 + 28 * u32::try_from(items.len()).unwrap_or(10);
    let drawn = (|| -> Result<(), Box<dyn std::error::Error + '_>> {
        let root = SVGBackend::with_string(&mut svg, (720, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(24)
            .y_label_area_size(220)
            .build_cartesian_2d(0..max + max / 10 + 1, (0..items.len()).into_segmented())?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(items.len())
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => items.get(*i).map(|(l, _)| truncate(l, 32)).unwrap_or_default(),
                _ => String::new(),
            })
            .draw()?;
        chart.draw_series(items.iter().enumerate().map(|(i, (_, v))| {
            let mut bar =
                Rectangle::new([(0, SegmentValue::Exact(i)), (*v, SegmentValue::Exact(i + 1))], BLUE.mix(0.8).filled());
            bar.set_margin(4, 4, 0, 0);
            bar
        }))?;
        root.present()?;
        Ok(())
    })();
    if let Err(err) = drawn {
        tracing::warn!(error = %err, "drawing a bar chart");
    }
    svg
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max - 1).collect();
    format!("{cut}…")
}
