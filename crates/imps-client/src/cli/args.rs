//! The command line of `imps` (clap derive). The binary flattens
//! [`Command`] next to its codec converters.

use clap::{Args, Subcommand};

/// Options every command takes.
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Profile file holding the session, or a bare name for
    /// <config dir>/imps/NAME.json [env: IMPS_PROFILE; default: <config dir>/imps/profile.json].
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// Print one JSON document (watch: one per line) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Log in and keep the session in the profile.
    Login(LoginArgs),
    /// End the saved session.
    Logout,
    /// Get an account by phone number (MSISDN), where the server allows it.
    Register(RegisterArgs),
    /// Send a message to a user.
    Send(SendArgs),
    /// Fetch waiting messages and notifications (and acknowledge them).
    Inbox(InboxArgs),
    /// Contact list: list (default), add, remove.
    Contacts {
        #[command(subcommand)]
        cmd: Option<ContactsCmd>,
    },
    /// Presence: set, get, watch.
    Presence {
        #[command(subcommand)]
        cmd: PresenceCmd,
    },
    /// Block list: list (default), add, remove.
    Block {
        #[command(subcommand)]
        cmd: Option<BlockCmd>,
    },
    /// Groups (chat rooms): create, join, leave, send, members.
    Group {
        #[command(subcommand)]
        cmd: GroupCmd,
    },
    /// Invitations: send, list, accept, reject.
    Invite {
        #[command(subcommand)]
        cmd: InviteCmd,
    },
    /// Search for users or groups; page through or stop a search.
    Search(SearchArgs),
    /// Public profile (CSP 1.3): show, set, clear.
    Profile {
        #[command(subcommand)]
        cmd: ProfileCmd,
    },
    /// Answer a system message (the same as imps sysmsg answer).
    Answer(AnswerArgs),
    /// System messages from the operator (CSP 1.3): list, answer.
    Sysmsg {
        #[command(subcommand)]
        cmd: SysmsgCmd,
    },
    /// Full-screen chat: contacts, presence, conversations, groups.
    Chat(ChatArgs),
}

/// How to talk to the server.
#[derive(Args, Debug, Clone)]
pub struct WireArgs {
    /// Server URL, e.g. http://127.0.0.1:8080/imps.
    #[arg(long, env = "IMPS_SERVER")]
    pub server: String,
    /// Speak XML (the default).
    #[arg(long, conflicts_with = "wbxml")]
    pub xml: bool,
    /// Speak WBXML.
    #[arg(long)]
    pub wbxml: bool,
    /// CSP version: 1.1, 1.2 or 1.3.
    #[arg(long, default_value = "1.2")]
    pub csp: String,
    /// Session lifetime to ask for, in seconds (the server may cap it).
    #[arg(long, default_value_t = 3600)]
    pub ttl: u64,
}

#[derive(Args, Debug, Clone)]
pub struct LoginArgs {
    #[command(flatten)]
    pub wire: WireArgs,
    /// User ID (alice, or alice@domain).
    #[arg(long)]
    pub user: String,
    /// Read the password from standard input (one line).
    #[arg(long)]
    pub password_stdin: bool,
    /// Use the 4-way digest login (the password never travels).
    #[arg(long)]
    pub digest: bool,
    /// When the server asks to accept its terms before the login (CSP
    /// 1.3), answer with this option ID without asking. Without it the
    /// terms are asked on the terminal, or the login stops and shows
    /// them.
    #[arg(long, value_name = "OPTION")]
    pub accept_terms: Option<u64>,
}

#[derive(Args, Debug, Clone)]
pub struct RegisterArgs {
    #[command(flatten)]
    pub wire: WireArgs,
    /// Phone number in E.164 form, e.g. +358401234567.
    #[arg(long)]
    pub msisdn: String,
    /// User ID to ask for (the server may assign another).
    #[arg(long, default_value = "")]
    pub user: String,
    /// Header that carries the number (the server's msisdn.header).
    #[arg(long, default_value = "X-MSISDN")]
    pub msisdn_header: String,
}

/// 1.3 text formatting.
#[derive(Args, Debug, Clone, Default)]
pub struct FontArgs {
    #[arg(long)]
    pub bold: bool,
    #[arg(long)]
    pub italic: bool,
    #[arg(long)]
    pub underline: bool,
    /// Black, Silver, Gray, White, Maroon, Red, Purple, Fuchsia, Green,
    /// Lime, Olive, Yellow, Navy, Blue, Teal, Aqua or #rrggbb.
    #[arg(long)]
    pub color: Option<String>,
    /// Tiny, Small, Medium, Big or Huge.
    #[arg(long)]
    pub size: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct SendArgs {
    /// Recipient user ID.
    pub user: String,
    /// The message.
    pub text: String,
    #[command(flatten)]
    pub font: FontArgs,
}

#[derive(Args, Debug, Clone)]
pub struct InboxArgs {
    /// Wait up to this many seconds for something to arrive.
    #[arg(long, default_value_t = 0)]
    pub wait: u64,
    /// Only list the messages waiting on the server (GetMessageList),
    /// without fetching or acknowledging them.
    #[arg(long)]
    pub list: bool,
    /// With --list: show at most this many.
    #[arg(long)]
    pub count: Option<u64>,
    /// Take datagram CIR (SUDP) on this local UDP address (e.g.
    /// 0.0.0.0:3717) and poll only when the server wakes us, up to
    /// --wait seconds, instead of polling on a timer.
    #[arg(long, value_name = "ADDR:PORT")]
    pub udp_cir: Option<String>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ContactsCmd {
    /// Show the contact lists with presence.
    List,
    /// Add a user to a contact list (the default one unless --list) and
    /// let them see your presence.
    Add {
        user: String,
        #[arg(long)]
        nick: Option<String>,
        #[arg(long)]
        list: Option<String>,
        /// Do not let this contact see your presence.
        #[arg(long)]
        no_share: bool,
    },
    /// Remove a user from a contact list.
    Remove {
        user: String,
        #[arg(long)]
        list: Option<String>,
    },
    /// Delete a whole contact list (its ID, or a name of one of yours).
    DeleteList { list: String },
}

#[derive(Subcommand, Debug, Clone)]
pub enum PresenceCmd {
    /// Publish your presence.
    Set {
        /// online, away, busy or offline.
        #[arg(long)]
        status: Option<String>,
        /// Free text status.
        #[arg(long)]
        text: Option<String>,
        /// Mood (HAPPY, SAD, ...).
        #[arg(long)]
        mood: Option<String>,
        /// Nickname others see.
        #[arg(long)]
        alias: Option<String>,
    },
    /// Show presence of users (yourself when none is given).
    Get { users: Vec<String> },
    /// Subscribe and print presence changes as they arrive.
    Watch {
        /// Users to watch (your contact lists when none is given).
        users: Vec<String>,
        /// Stop after this many presence updates.
        #[arg(long)]
        count: Option<u64>,
        /// Stop after this many seconds.
        #[arg(long)]
        timeout: Option<u64>,
    },
    /// Answer a user who asked to see your presence (see imps inbox):
    /// let them see it, or with --deny refuse.
    Authorize {
        user: String,
        #[arg(long)]
        deny: bool,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum BlockCmd {
    /// Show the block list.
    List,
    /// Block users.
    Add { users: Vec<String> },
    /// Unblock users.
    Remove { users: Vec<String> },
}

#[derive(Subcommand, Debug, Clone)]
pub enum GroupCmd {
    /// Create an open group and join it.
    Create {
        name: String,
        #[arg(long)]
        topic: Option<String>,
        /// Your screen name in the group (default: your user ID).
        #[arg(long)]
        screen_name: Option<String>,
    },
    /// Join a group (ID like alice/room).
    Join {
        group: String,
        #[arg(long)]
        screen_name: Option<String>,
    },
    Leave {
        group: String,
    },
    /// Send a message to a group.
    Send {
        group: String,
        text: String,
        #[command(flatten)]
        font: FontArgs,
    },
    /// Who is in the group now.
    Members {
        group: String,
    },
    /// Delete a group you administer (its members are told).
    Delete {
        group: String,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum InviteCmd {
    /// Invite a user (to a group with --group, else to share presence).
    Send {
        user: String,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Invitations waiting for your answer.
    List,
    /// Accept an invitation (joins the group first).
    Accept {
        invite_id: String,
        #[arg(long)]
        note: Option<String>,
        #[arg(long)]
        screen_name: Option<String>,
    },
    Reject {
        invite_id: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Withdraw an invitation you sent (from everyone it went to, or from
    /// --user only).
    Cancel {
        invite_id: String,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        group: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
}

/// `imps search`: a new search from criteria, or a page of an open one
/// (`--next`), or the end of one (`--stop`).
#[derive(Args, Debug, Clone)]
pub struct SearchArgs {
    /// What TEXT is searched by: user-id, first-name, last-name,
    /// friendly-name, email, alias, mobile, group-id, group-name,
    /// group-topic (and the --where names).
    #[arg(long, default_value = "user-id", value_name = "FIELD")]
    pub by: String,
    /// The value to look for, as a whole (pair 1 when given).
    #[arg(conflicts_with_all = ["next", "stop"])]
    pub text: Option<String>,
    /// A criterion FIELD=TEXT, repeatable; pairs are numbered 1, 2, ...
    /// in order (TEXT first when given). Fields: the --by names, and in
    /// CSP 1.3 city, country, gender, intention, interests,
    /// marital-status, age-min, age-max; for groups also owner, joined.
    /// Without --match every criterion must match.
    #[arg(long = "where", value_name = "FIELD=TEXT", conflicts_with_all = ["next", "stop"])]
    pub where_: Vec<String>,
    /// How the criteria combine (CSP 1.3), over their numbers with AND,
    /// OR, NOT and parentheses, e.g. "1 AND NOT (2 OR 3)".
    #[arg(long = "match", value_name = "EXPR", conflicts_with_all = ["next", "stop"])]
    pub match_: Option<String>,
    /// Results per page (default 50 for a new search; the server may
    /// cap it).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// Show a page of an open search (its search ID, printed with the
    /// first page).
    #[arg(long, value_name = "SEARCH_ID", conflicts_with = "stop")]
    pub next: Option<String>,
    /// With --next: the page starting at this result (0 is the first;
    /// earlier pages too). Without it, the page after the last one shown.
    #[arg(long, value_name = "I", requires = "next")]
    pub index: Option<u64>,
    /// End an open search (the server forgets it).
    #[arg(long, value_name = "SEARCH_ID")]
    pub stop: Option<String>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum ProfileCmd {
    /// Show public profiles (yours when no user is given).
    #[command(alias = "get")]
    Show { users: Vec<String> },
    /// Set fields: friendly-name=Alice age=1990-04 country=FI city=Oulu
    /// gender, intention, interests, marital-status, free-text (PP_
    /// names too); an empty value clears a field.
    Set { fields: Vec<String> },
    /// Empty your public profile, all but the friendly name (you are no
    /// longer found by profile searches).
    Clear,
}

#[derive(Args, Debug, Clone)]
pub struct AnswerArgs {
    /// System message ID.
    pub id: String,
    /// Answer option ID; leave it out to acknowledge a message that
    /// offers no options.
    pub option: Option<u64>,
}

#[derive(Subcommand, Debug, Clone)]
pub enum SysmsgCmd {
    /// System messages received and not answered yet (fetches new ones
    /// first): ID, text, options.
    List,
    /// Answer one with an option ID, or acknowledge one without options.
    Answer(AnswerArgs),
    /// Whether the server offers help after refused requests: it sends
    /// its `help` message with the current preference; answer it with
    /// option 1 (help on) or 2 (help off).
    HelpSetting,
}

#[derive(Args, Debug, Clone)]
pub struct ChatArgs {
    /// Poll over HTTP instead of taking pushes over WebSocket.
    #[arg(long)]
    pub poll: bool,
}
