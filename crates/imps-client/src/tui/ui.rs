//! Drawing the chat UI: contacts with live presence and rooms on the
//! left, the open conversation and the input line on the right, a status
//! line, and prompts (invitations, system messages) over everything.
//! CSP 1.3 Font is shown as terminal colour and style (see [`font_style`]).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, List, ListItem, ListState, Paragraph, Wrap};

use crate::cli::build::Font;
use crate::cli::ids;
use crate::tui::app::{App, ChatLine, ConvKey, Entry, Prompt};

/// Width of the contact column.
const SIDEBAR: u16 = 28;

pub fn draw(f: &mut Frame, app: &App) {
    let [main, status] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(f.area());
    let [side, right] =
        Layout::horizontal([Constraint::Length(SIDEBAR), Constraint::Min(10)]).areas(main);
    let [conv, input] = Layout::vertical([Constraint::Min(3), Constraint::Length(3)]).areas(right);
    draw_sidebar(f, app, side);
    draw_conversation(f, app, conv);
    let input_line = Paragraph::new(format!("> {}", app.input))
        .block(Block::default().borders(Borders::ALL).title(" message "));
    f.render_widget(input_line, input);
    f.render_widget(
        Paragraph::new(app.status.clone()).style(Style::default().fg(Color::DarkGray)),
        status,
    );
    if let Some(p) = app.prompts.front() {
        draw_prompt(f, p, main, app.prompts.len());
    }
}

/// Glyph and colour for a presence summary.
pub fn presence_mark(summary: &str) -> (&'static str, Color) {
    match summary {
        "online" => ("●", Color::Green),
        "away" => ("◐", Color::Yellow),
        "busy" => ("◆", Color::Red),
        "offline" => ("○", Color::DarkGray),
        _ => ("·", Color::DarkGray),
    }
}

fn unread_span(app: &App, key: &ConvKey) -> Span<'static> {
    match app.conv(key).map(|c| c.unread).unwrap_or(0) {
        0 => Span::raw(""),
        n => Span::styled(
            format!(" ({n})"),
            Style::default().add_modifier(Modifier::BOLD),
        ),
    }
}

fn draw_sidebar(f: &mut Frame, app: &App, area: Rect) {
    let entries = app.entries();
    let items: Vec<ListItem> = entries
        .iter()
        .map(|e| {
            let key = app.entry_key(e);
            let mut spans = match e {
                Entry::Contact(i) => {
                    let c = &app.contacts[*i];
                    let summary = c
                        .presence
                        .as_ref()
                        .map(|p| p.summary())
                        .unwrap_or("unknown");
                    let (mark, color) = presence_mark(summary);
                    let name = c.nick.clone().unwrap_or_else(|| ids::display(&c.id));
                    let mut v = vec![
                        Span::styled(format!("{mark} "), Style::default().fg(color)),
                        Span::raw(name),
                    ];
                    if let Some(t) = c.presence.as_ref().and_then(|p| p.status_text.clone()) {
                        v.push(Span::styled(
                            format!(" {t}"),
                            Style::default().fg(Color::DarkGray),
                        ));
                    }
                    v
                }
                Entry::Room(g) => vec![
                    Span::styled("# ", Style::default().fg(Color::Cyan)),
                    Span::raw(ids::display(g)),
                ],
                Entry::Other(ConvKey::User(k)) => vec![Span::raw("  "), Span::raw(k.clone())],
                Entry::Other(ConvKey::Group(k)) => vec![Span::raw("# "), Span::raw(k.clone())],
            };
            spans.push(unread_span(app, &key));
            let mut item = ListItem::new(Line::from(spans));
            if app.open.as_ref() == Some(&key) {
                item = item.style(Style::default().add_modifier(Modifier::BOLD));
            }
            item
        })
        .collect();
    let list = List::new(items)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(format!(" {} ", app.me)),
        )
        .highlight_symbol("›")
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = ListState::default();
    if !entries.is_empty() {
        state.select(Some(app.selected.min(entries.len() - 1)));
    }
    f.render_stateful_widget(list, area, &mut state);
}

fn title(app: &App, key: &ConvKey) -> String {
    match key {
        ConvKey::User(k) => {
            let c = app.contacts.iter().find(|c| &ids::user_key(&c.id) == k);
            let name = c.and_then(|c| c.nick.clone()).unwrap_or_else(|| k.clone());
            match c.and_then(|c| c.presence.as_ref()) {
                Some(p) => format!(" {name} · {} ", p.summary()),
                None => format!(" {name} "),
            }
        }
        ConvKey::Group(k) => format!(" # {k} "),
    }
}

/// A chat line: sender in bold, text styled by its Font.
pub fn chat_line(l: &ChatLine) -> Line<'static> {
    if l.notice {
        return Line::from(Span::styled(
            format!("* {}", l.text),
            Style::default()
                .fg(Color::DarkGray)
                .add_modifier(Modifier::ITALIC),
        ));
    }
    let who = if l.mine { Color::Green } else { Color::Cyan };
    let text_style = l.font.as_ref().map(font_style).unwrap_or_default();
    Line::from(vec![
        Span::styled(
            format!("{}: ", l.from),
            Style::default().fg(who).add_modifier(Modifier::BOLD),
        ),
        Span::styled(l.text.clone(), text_style),
    ])
}

fn draw_conversation(f: &mut Frame, app: &App, area: Rect) {
    let Some(key) = &app.open else {
        let hint = Paragraph::new("Choose a contact or room with ↑↓ and Enter.\n/msg USER starts a chat, /join GROUP enters a room.")
            .block(Block::default().borders(Borders::ALL))
            .wrap(Wrap { trim: true });
        f.render_widget(hint, area);
        return;
    };
    let lines: Vec<Line> = app
        .conv(key)
        .map(|c| c.lines.iter().map(chat_line).collect())
        .unwrap_or_default();
    // Keep the newest line at the bottom: count wrapped rows and scroll
    // past the ones that do not fit.
    let inner_w = area.width.saturating_sub(2).max(1) as usize;
    let inner_h = area.height.saturating_sub(2) as usize;
    let rows: usize = lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(inner_w))
        .sum();
    let scroll = rows.saturating_sub(inner_h).min(u16::MAX as usize) as u16;
    let p = Paragraph::new(lines)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(title(app, key)),
        )
        .wrap(Wrap { trim: false })
        .scroll((scroll, 0));
    f.render_widget(p, area);
}

fn draw_prompt(f: &mut Frame, p: &Prompt, area: Rect, waiting: usize) {
    let (head, mut body) = match p {
        Prompt::Invite(i) => {
            let what = match &i.group {
                Some(g) => format!("to join # {}", ids::display(g)),
                None => format!("({})", i.invite_type),
            };
            let mut v = vec![Line::from(format!(
                "{} invites you {what}",
                ids::display(&i.from)
            ))];
            if let Some(n) = &i.note {
                v.push(Line::from(format!("“{n}”")));
            }
            v.push(Line::from(""));
            v.push(Line::from("[a] accept   [r] reject   [Esc] later"));
            (" invitation ", v)
        }
        Prompt::System(m) => {
            let mut v = vec![Line::from(m.text.clone()), Line::from("")];
            for (n, (_, text)) in m.options.iter().enumerate() {
                v.push(Line::from(format!("[{}] {text}", n + 1)));
            }
            if m.options.is_empty() {
                v.push(Line::from("[Enter] OK   [Esc] later"));
            } else if m.requires_response {
                v.push(Line::from("[Esc] later (an answer is required)"));
            } else {
                v.push(Line::from("[Esc] later"));
            }
            (" system message ", v)
        }
        Prompt::PresenceAuth(user) => (
            " presence request ",
            vec![
                Line::from(format!("{} asks to see your presence", ids::display(user))),
                Line::from(""),
                Line::from("[a] allow   [d] deny   [Esc] later"),
            ],
        ),
    };
    if waiting > 1 {
        body.push(Line::from(format!("({} more waiting)", waiting - 1)));
    }
    let w = area.width.saturating_sub(8).min(60);
    let h = (body.len() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + (area.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    let para = Paragraph::new(body)
        .block(
            Block::default()
                .borders(Borders::ALL)
                .title(head)
                .border_style(Style::default().fg(Color::Yellow)),
        )
        .wrap(Wrap { trim: true });
    f.render_widget(para, r);
}

/// CSP 1.3 Font as a terminal style: Color by name (the 16 HTML colours)
/// or `#rrggbb`; Style Bold/Italic/Underline as modifiers; a terminal has
/// one font size, so Tiny/Small are dimmed and Big/Huge made bold.
pub fn font_style(f: &Font) -> Style {
    let mut s = Style::default();
    if let Some(c) = f.color.as_deref().and_then(color) {
        s = s.fg(c);
    }
    for st in &f.styles {
        s = match st.to_ascii_lowercase().as_str() {
            "bold" | "b" => s.add_modifier(Modifier::BOLD),
            "italic" | "i" => s.add_modifier(Modifier::ITALIC),
            "underline" | "u" => s.add_modifier(Modifier::UNDERLINED),
            _ => s,
        };
    }
    match f.size.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("tiny" | "small") => s.add_modifier(Modifier::DIM),
        Some("big" | "huge") => s.add_modifier(Modifier::BOLD),
        _ => s,
    }
}

fn color(name: &str) -> Option<Color> {
    if let Some(hex) = name.strip_prefix('#').filter(|h| h.len() == 6) {
        let v = u32::from_str_radix(hex, 16).ok()?;
        return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
    }
    Some(match name.to_ascii_lowercase().as_str() {
        "black" => Color::Black,
        "silver" => Color::Gray,
        "gray" | "grey" => Color::DarkGray,
        "white" => Color::White,
        "maroon" => Color::Red,
        "red" => Color::LightRed,
        "purple" => Color::Magenta,
        "fuchsia" => Color::LightMagenta,
        "green" => Color::Green,
        "lime" => Color::LightGreen,
        "olive" => Color::Yellow,
        "yellow" => Color::LightYellow,
        "navy" => Color::Blue,
        "blue" => Color::LightBlue,
        "teal" => Color::Cyan,
        "aqua" => Color::LightCyan,
        _ => return None,
    })
}
