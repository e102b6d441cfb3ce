//! Exports functions with nested WIT types and no entry point: MCP serves
//! each as a tool with schemas derived from the types.

#![allow(unsafe_code, reason = "wit-bindgen generates the export glue with unsafe code")]
wit_bindgen::generate!({
    // Also read by the MCP tests as the component's WIT beside it, for the
    // doc comments tool descriptions carry.
    path: "wit/typed-tools.wit",
    world: "typed-tools",
});

use exports::test::typed::shapes::{Guest as Shapes, Label, Point, Shape, Style, Unit};

struct Typed;

impl Guest for Typed {
    fn version() -> String {
        "typed-tools 1".into()
    }
}

impl Shapes for Typed {
    fn area(shape: Shape, unit: Unit) -> Result<f64, String> {
        let square_metres = match shape {
            Shape::Circle((_, r)) => std::f64::consts::PI * f64::from(r) * f64::from(r),
            Shape::Polygon(points) if points.len() >= 3 => {
                let n = points.len();
                let twice: i64 = (0..n)
                    .map(|i| {
                        let (a, b) = (&points[i], &points[(i + 1) % n]);
                        i64::from(a.x) * i64::from(b.y) - i64::from(b.x) * i64::from(a.y)
                    })
                    .sum();
                twice.abs() as f64 / 2.0
            }
            Shape::Polygon(_) => return Err("a polygon needs at least 3 points".into()),
            Shape::Empty => return Err("an empty shape has no area".into()),
        };
        Ok(match unit {
            Unit::Metres => square_metres,
            Unit::Feet => square_metres * 10.763_910_416_709_722,
        })
    }

    fn bounds(points: Vec<Point>) -> Option<(Point, Point)> {
        let first = points.first()?;
        let mut lo = Point { x: first.x, y: first.y };
        let mut hi = Point { x: first.x, y: first.y };
        for p in &points {
            lo = Point { x: lo.x.min(p.x), y: lo.y.min(p.y) };
            hi = Point { x: hi.x.max(p.x), y: hi.y.max(p.y) };
        }
        Some((lo, hi))
    }

    fn render(labels: Vec<Label>, scale: Option<u8>) -> Vec<String> {
        let k = i32::from(scale.unwrap_or(1));
        labels
            .into_iter()
            .map(|l| {
                let mut text = l.text;
                if l.style.contains(Style::BOLD) {
                    text = format!("*{text}*");
                }
                if l.style.contains(Style::ITALIC) {
                    text = format!("_{text}_");
                }
                match l.at {
                    Some(p) => format!("{text}@{},{}", p.x * k, p.y * k),
                    None => text,
                }
            })
            .collect()
    }

    fn crash() -> u32 {
        panic!("crash was called")
    }
}

export!(Typed);
