//! The chat UI's state and how events change it. No terminal and no
//! network here: keys and server pushes come in as [`AppEvent`]s, and
//! what must go to the server comes out as [`Action`]s, so tests drive it
//! directly and render it on ratatui's TestBackend.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use imps_wire::Message;

use crate::cli::build::{Font, Target};
use crate::cli::events::{self, Ack, Event};
use crate::cli::ids;
use crate::cli::profile::{PendingInvite, PendingSystemMessage};
use crate::cli::read::{Incoming, PresenceView};

/// Most lines kept per conversation; older ones scroll away for good.
pub const MAX_LINES: usize = 500;

/// The colour names CSP 1.3 Font takes (besides `#rrggbb`).
const COLOURS: &[&str] = &[
    "Black", "Silver", "Gray", "White", "Maroon", "Red", "Purple", "Fuchsia", "Green", "Lime",
    "Olive", "Yellow", "Navy", "Blue", "Teal", "Aqua",
];

/// Font sizes CSP 1.3 names.
const SIZES: &[&str] = &["Tiny", "Small", "Medium", "Big", "Huge"];

/// Something that happened.
#[derive(Debug, Clone)]
pub enum AppEvent {
    Key(KeyEvent),
    /// A message the server pushed (WebSocket) or we polled.
    Push(Message),
    /// The outcome of an action, for the status line.
    Status(String),
    /// The push channel ended.
    Closed(String),
}

/// Something to tell the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send {
        to: Target,
        text: String,
        font: Font,
    },
    Ack {
        tid: String,
        ack: Ack,
    },
    AnswerInvite {
        invite: PendingInvite,
        accept: bool,
    },
    /// SystemMessage-User: the chosen option, or none to acknowledge a
    /// message without options.
    AnswerSystem {
        id: String,
        option: Option<u64>,
    },
    /// Keep a pushed system message in the profile until it is answered,
    /// so `imps sysmsg list` and the next `imps chat` still have it.
    KeepSystem(PendingSystemMessage),
    AnswerPresenceAuth {
        user: String,
        accept: bool,
    },
    Join {
        group: String,
    },
    Leave {
        group: String,
    },
}

/// A conversation: with a user, or in a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ConvKey {
    User(String),
    Group(String),
}

impl ConvKey {
    pub fn of_user(id: &str) -> ConvKey {
        ConvKey::User(ids::user_key(id))
    }

    pub fn of_group(id: &str) -> ConvKey {
        ConvKey::Group(ids::group_key(id))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    pub from: String,
    pub text: String,
    pub font: Option<Font>,
    pub mine: bool,
    /// A notice (joined, left) rather than a message.
    pub notice: bool,
}

#[derive(Debug, Clone)]
pub struct Conversation {
    pub key: ConvKey,
    /// Wire address to send to.
    pub address: String,
    pub lines: VecDeque<ChatLine>,
    pub unread: usize,
}

#[derive(Debug, Clone)]
pub struct ContactRow {
    pub id: String,
    pub nick: Option<String>,
    pub presence: Option<PresenceView>,
}

/// Something waiting for the user's answer, shown over everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    Invite(PendingInvite),
    System(PendingSystemMessage),
    /// A user asks to see our presence.
    PresenceAuth(String),
}

/// A row of the sidebar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Contact(usize),
    Room(String),
    /// A conversation with someone not in the contact list.
    Other(ConvKey),
}

#[derive(Debug, Clone, Default)]
pub struct App {
    pub me: String,
    pub contacts: Vec<ContactRow>,
    /// Wire group IDs.
    pub rooms: Vec<String>,
    pub convs: Vec<Conversation>,
    pub open: Option<ConvKey>,
    pub prompts: VecDeque<Prompt>,
    pub input: String,
    pub selected: usize,
    pub status: String,
    pub quit: bool,
    /// Formatting for what we send (IMR-1..4), set with `/style`.
    pub style: Font,
}

impl App {
    pub fn new(me: &str) -> App {
        App {
            me: ids::display(me),
            status: "Ctrl-C quits · ↑↓ choose · Enter open/send · Tab next unread".into(),
            ..App::default()
        }
    }

    pub fn add_contact(&mut self, id: &str, nick: Option<String>) {
        let key = ids::user_key(id);
        if !self.contacts.iter().any(|c| ids::user_key(&c.id) == key) {
            self.contacts.push(ContactRow {
                id: id.to_string(),
                nick,
                presence: None,
            });
        }
    }

    pub fn add_room(&mut self, group: &str) {
        let key = ids::group_key(group);
        if !self.rooms.iter().any(|r| ids::group_key(r) == key) {
            self.rooms.push(group.to_string());
        }
    }

    pub fn set_presence(&mut self, p: &PresenceView) {
        let key = ids::user_key(&p.user);
        if let Some(c) = self
            .contacts
            .iter_mut()
            .find(|c| ids::user_key(&c.id) == key)
        {
            c.presence = Some(p.clone());
        }
    }

    /// The sidebar rows in order: contacts, rooms, other conversations.
    pub fn entries(&self) -> Vec<Entry> {
        let mut v: Vec<Entry> = (0..self.contacts.len()).map(Entry::Contact).collect();
        v.extend(self.rooms.iter().cloned().map(Entry::Room));
        for c in &self.convs {
            let listed = match &c.key {
                ConvKey::User(k) => self.contacts.iter().any(|x| &ids::user_key(&x.id) == k),
                ConvKey::Group(k) => self.rooms.iter().any(|r| &ids::group_key(r) == k),
            };
            if !listed {
                v.push(Entry::Other(c.key.clone()));
            }
        }
        v
    }

    pub fn entry_key(&self, e: &Entry) -> ConvKey {
        match e {
            Entry::Contact(i) => ConvKey::of_user(&self.contacts[*i].id),
            Entry::Room(g) => ConvKey::of_group(g),
            Entry::Other(k) => k.clone(),
        }
    }

    pub fn conv(&self, key: &ConvKey) -> Option<&Conversation> {
        self.convs.iter().find(|c| &c.key == key)
    }

    fn conv_mut(&mut self, key: ConvKey, address: &str) -> &mut Conversation {
        let i = match self.convs.iter().position(|c| c.key == key) {
            Some(i) => i,
            None => {
                self.convs.push(Conversation {
                    key,
                    address: address.to_string(),
                    lines: VecDeque::new(),
                    unread: 0,
                });
                self.convs.len() - 1
            }
        };
        &mut self.convs[i]
    }

    /// Opens a conversation with a user (`bob`) or group (`#alice/room`).
    pub fn open_conversation(&mut self, who: &str) {
        let (key, address) = match who.strip_prefix('#') {
            Some(g) => (ConvKey::of_group(g), ids::wire_group(g)),
            None => (ConvKey::of_user(who), ids::wire_user(who)),
        };
        self.conv_mut(key.clone(), &address).unread = 0;
        self.open = Some(key);
    }

    fn push_line(&mut self, key: ConvKey, address: &str, line: ChatLine) {
        let is_open = self.open.as_ref() == Some(&key);
        let c = self.conv_mut(key, address);
        c.lines.push_back(line);
        while c.lines.len() > MAX_LINES {
            c.lines.pop_front();
        }
        if !is_open {
            c.unread += 1;
        }
    }

    pub fn receive(&mut self, m: &Incoming) {
        let from = m.from_name.clone().unwrap_or_else(|| ids::display(&m.from));
        let (key, address) = match &m.group {
            Some(g) => (ConvKey::of_group(g), g.clone()),
            None => (ConvKey::of_user(&m.from), m.from.clone()),
        };
        let line = ChatLine {
            from,
            text: m.text.clone(),
            font: m.font.as_ref().map(|f| f.to_font()),
            mine: false,
            notice: false,
        };
        self.push_line(key, &address, line);
    }

    /// Handles one event; returns what to tell the server.
    pub fn on_event(&mut self, ev: AppEvent) -> Vec<Action> {
        match ev {
            AppEvent::Key(k) => self.on_key(k),
            AppEvent::Push(msg) => self.on_push(&msg),
            AppEvent::Status(s) => {
                self.status = s;
                Vec::new()
            }
            AppEvent::Closed(why) => {
                self.status = format!("disconnected: {why}");
                Vec::new()
            }
        }
    }

    fn on_push(&mut self, msg: &Message) -> Vec<Action> {
        let mut actions = Vec::new();
        for (tid, body) in events::requests(msg) {
            let (all, ack) = events::classify_all(body);
            if let Some(tid) = tid.filter(|_| ack != Ack::Nothing) {
                actions.push(Action::Ack { tid, ack });
            }
            for event in all {
                if let Event::SystemMessage(m) = &event {
                    actions.push(Action::KeepSystem(m.clone()));
                }
                self.apply(event);
            }
        }
        actions
    }

    /// Folds a server event into the state.
    pub fn apply(&mut self, e: Event) {
        match e {
            Event::Message(m) => self.receive(&m),
            Event::Presence { presence } => presence.iter().for_each(|p| self.set_presence(p)),
            Event::Invitation(i) => self.prompts.push_back(Prompt::Invite(i)),
            Event::InviteCancelled { ref invite_id, .. } => {
                self.prompts
                    .retain(|p| !matches!(p, Prompt::Invite(i) if &i.invite_id == invite_id));
                self.status = events::describe(&e);
            }
            Event::PresenceAuth { user } => {
                let key = ids::user_key(&user);
                let asked = self
                    .prompts
                    .iter()
                    .any(|p| matches!(p, Prompt::PresenceAuth(u) if ids::user_key(u) == key));
                if !user.is_empty() && !asked {
                    self.prompts.push_back(Prompt::PresenceAuth(user));
                }
            }
            // Every system message is a prompt: one with options waits
            // for a choice, one without for an OK (its acknowledgement).
            // One sent again replaces the prompt already waiting.
            Event::SystemMessage(m) => {
                self.status = format!("system message: {}", m.text);
                match self
                    .prompts
                    .iter_mut()
                    .find(|p| matches!(p, Prompt::System(x) if x.id == m.id))
                {
                    Some(p) => *p = Prompt::System(m),
                    None => self.prompts.push_back(Prompt::System(m)),
                }
            }
            Event::GroupChange { ref group, .. } => {
                let text = events::describe(&e);
                let line = ChatLine {
                    from: String::new(),
                    text,
                    font: None,
                    mine: false,
                    notice: true,
                };
                self.push_line(ConvKey::of_group(group), group, line);
            }
            Event::GroupLeft { group, .. } => {
                let key = ids::group_key(&group);
                self.rooms.retain(|r| ids::group_key(r) != key);
                self.status = format!("you were removed from {}", ids::display(&group));
            }
            other => self.status = events::describe(&other),
        }
    }

    fn on_key(&mut self, k: KeyEvent) -> Vec<Action> {
        if k.kind == KeyEventKind::Release {
            return Vec::new();
        }
        if k.modifiers.contains(KeyModifiers::CONTROL) && matches!(k.code, KeyCode::Char('c' | 'q'))
        {
            self.quit = true;
            return Vec::new();
        }
        if let Some(p) = self.prompts.front().cloned() {
            return self.on_prompt_key(p, k.code);
        }
        match k.code {
            KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down => {
                let n = self.entries().len();
                if self.selected + 1 < n {
                    self.selected += 1;
                }
            }
            KeyCode::Tab => self.next_unread(),
            KeyCode::Backspace => {
                self.input.pop();
            }
            KeyCode::Esc => self.input.clear(),
            KeyCode::Char(c) => self.input.push(c),
            KeyCode::Enter => return self.on_enter(),
            _ => {}
        }
        Vec::new()
    }

    fn on_prompt_key(&mut self, p: Prompt, code: KeyCode) -> Vec<Action> {
        let action = match (&p, code) {
            (_, KeyCode::Esc) => None,
            (Prompt::Invite(i), KeyCode::Char('a' | 'y')) => Some(Action::AnswerInvite {
                invite: i.clone(),
                accept: true,
            }),
            (Prompt::Invite(i), KeyCode::Char('r' | 'n')) => Some(Action::AnswerInvite {
                invite: i.clone(),
                accept: false,
            }),
            (Prompt::PresenceAuth(u), KeyCode::Char('a' | 'y')) => {
                Some(Action::AnswerPresenceAuth {
                    user: u.clone(),
                    accept: true,
                })
            }
            (Prompt::PresenceAuth(u), KeyCode::Char('d' | 'n' | 'r')) => {
                Some(Action::AnswerPresenceAuth {
                    user: u.clone(),
                    accept: false,
                })
            }
            // Without options: Enter (or o) is the OK that acknowledges it.
            (Prompt::System(m), KeyCode::Enter | KeyCode::Char('o')) if m.options.is_empty() => {
                Some(Action::AnswerSystem {
                    id: m.id.clone(),
                    option: None,
                })
            }
            // With options: the digit of the option's place in the list.
            (Prompt::System(m), KeyCode::Char(c)) => {
                let Some(d) = c.to_digit(10).map(|d| d as usize) else {
                    return Vec::new();
                };
                match m.options.get(d.wrapping_sub(1)) {
                    Some((id, _)) => match id.trim().parse::<u64>() {
                        Ok(option) => Some(Action::AnswerSystem {
                            id: m.id.clone(),
                            option: Some(option),
                        }),
                        Err(_) => {
                            self.status = format!("option {id:?} cannot be sent (not a number)");
                            return Vec::new();
                        }
                    },
                    None => return Vec::new(),
                }
            }
            _ => return Vec::new(),
        };
        self.prompts.pop_front();
        if let (Prompt::Invite(i), Some(Action::AnswerInvite { accept: true, .. })) = (&p, &action)
            && let Some(g) = &i.group
        {
            self.add_room(g);
        }
        action.into_iter().collect()
    }

    fn next_unread(&mut self) {
        let entries = self.entries();
        if let Some((i, key)) = entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, self.entry_key(e)))
            .find(|(_, k)| self.conv(k).is_some_and(|c| c.unread > 0))
        {
            self.selected = i;
            self.open_key(key);
        }
    }

    fn open_key(&mut self, key: ConvKey) {
        let address = match &key {
            ConvKey::User(k) => self
                .contacts
                .iter()
                .find(|c| &ids::user_key(&c.id) == k)
                .map(|c| c.id.clone())
                .unwrap_or_else(|| ids::wire_user(k)),
            ConvKey::Group(k) => self
                .rooms
                .iter()
                .find(|r| &ids::group_key(r) == k)
                .cloned()
                .unwrap_or_else(|| ids::wire_group(k)),
        };
        self.conv_mut(key.clone(), &address).unread = 0;
        self.open = Some(key);
    }

    fn on_enter(&mut self) -> Vec<Action> {
        let text = std::mem::take(&mut self.input);
        let text = text.trim();
        if text.is_empty() {
            if let Some(e) = self.entries().get(self.selected) {
                let key = self.entry_key(e);
                self.open_key(key);
            }
            return Vec::new();
        }
        if let Some(cmd) = text.strip_prefix('/') {
            return self.command(cmd);
        }
        let Some(key) = self.open.clone() else {
            self.status = "open a conversation first (↑↓ and Enter)".into();
            return Vec::new();
        };
        let address = self
            .conv(&key)
            .map(|c| c.address.clone())
            .unwrap_or_default();
        let to = match key {
            ConvKey::User(_) => Target::User(address.clone()),
            ConvKey::Group(_) => Target::Group(address.clone()),
        };
        let font = self.style.clone();
        let line = ChatLine {
            from: self.me.clone(),
            text: text.to_string(),
            font: (!font.is_empty()).then(|| font.clone()),
            mine: true,
            notice: false,
        };
        self.push_line(key, &address, line);
        vec![Action::Send {
            to,
            text: text.to_string(),
            font,
        }]
    }

    /// `/style bold italic underline red size=big` sets the formatting of
    /// what we send from now on; `/style` alone (or `off`) clears it.
    fn set_style(&mut self, arg: &str) {
        let mut font = Font::default();
        for w in arg.split_whitespace() {
            let lw = w.to_ascii_lowercase();
            match lw.as_str() {
                "off" | "none" | "plain" => font = Font::default(),
                "bold" | "b" => font.styles.push("Bold".into()),
                "italic" | "i" => font.styles.push("Italic".into()),
                "underline" | "u" => font.styles.push("Underline".into()),
                _ => {
                    if let Some(sz) = lw.strip_prefix("size=") {
                        match SIZES.iter().find(|s| s.eq_ignore_ascii_case(sz)) {
                            Some(s) => font.size = Some((*s).to_string()),
                            None => {
                                self.status =
                                    format!("unknown size {sz}; use {}", SIZES.join(", "));
                                return;
                            }
                        }
                    } else if let Some(c) = COLOURS.iter().find(|c| c.eq_ignore_ascii_case(w)) {
                        font.color = Some((*c).to_string());
                    } else if w.starts_with('#')
                        && w.len() == 7
                        && w[1..].chars().all(|c| c.is_ascii_hexdigit())
                    {
                        font.color = Some(w.to_string());
                    } else {
                        self.status = format!(
                            "unknown style {w}; use bold, italic, underline, a colour, size=..., off"
                        );
                        return;
                    }
                }
            }
        }
        self.status = if font.is_empty() {
            "plain text".to_string()
        } else {
            let mut parts = font.styles.clone();
            parts.extend(font.color.clone());
            parts.extend(font.size.clone());
            format!("sending as {} (CSP 1.3)", parts.join(" "))
        };
        self.style = font;
    }

    /// `/quit`, `/msg USER`, `/join GROUP`, `/leave`, `/style ...`.
    fn command(&mut self, cmd: &str) -> Vec<Action> {
        let (name, arg) = cmd.split_once(' ').unwrap_or((cmd, ""));
        let arg = arg.trim();
        match (name, arg) {
            ("quit" | "q", _) => self.quit = true,
            ("style", a) => self.set_style(a),
            ("msg", a) if !a.is_empty() => self.open_conversation(a),
            ("join", a) if !a.is_empty() => {
                let g = ids::wire_group(a.trim_start_matches('#'));
                self.add_room(&g);
                self.open_conversation(&format!("#{}", a.trim_start_matches('#')));
                return vec![Action::Join { group: g }];
            }
            ("leave", _) => {
                if let Some(ConvKey::Group(k)) = self.open.clone() {
                    let g = self
                        .conv(&ConvKey::Group(k.clone()))
                        .map(|c| c.address.clone());
                    self.rooms.retain(|r| ids::group_key(r) != k);
                    self.open = None;
                    return g.map(|group| Action::Leave { group }).into_iter().collect();
                }
                self.status = "/leave works in a group".into();
            }
            _ => {
                self.status = format!(
                    "unknown command /{name}; try /msg USER, /join GROUP, /leave, /style, /quit"
                )
            }
        }
        Vec::new()
    }
}
