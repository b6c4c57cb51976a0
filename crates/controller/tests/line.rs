//! The phone line as the desktop app uses it, with a fake shell in place of the
//! window, against the real server on 127.0.0.1:0: three agents signed in through the
//! controller, each with a `PhoneLine`. A colleague's call rings through the shell and
//! is answered; a second caller meanwhile gets busy without ringing anyone; the chosen
//! presence turns callers away; hanging up reaches both shells with the call's end.
//!
//! Calls use the default audio devices: `scripts/test-all.sh` runs the tests inside a
//! PulseAudio session with virtual devices.

use softphone_call::{CallEvent, CallState, Command};
use softphone_controller::agent::{Account, Agent};
use softphone_controller::line::{
    CallEnded, CallPrefs, CallView, IncomingCall, Levels, PhoneLine, Shell,
};
use softphone_proto::signal::Presence;
use softphone_proto::Role;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// What the line showed, in order.
#[derive(Debug, Clone)]
enum Shown {
    Incoming(IncomingCall),
    State(CallState),
    View(CallView),
    Ended(CallEnded),
}

/// A shell that records what the line shows and passes it to the test.
struct FakeShell {
    tx: mpsc::UnboundedSender<Shown>,
    alerts: Mutex<Vec<String>>,
}

impl Shell for FakeShell {
    fn incoming(&self, call: &IncomingCall) {
        let _ = self.tx.send(Shown::Incoming(call.clone()));
    }
    fn call_event(&self, event: &CallEvent) {
        if let CallEvent::State { state } = event {
            let _ = self.tx.send(Shown::State(state.clone()));
        }
    }
    fn levels(&self, _: &Levels) {}
    fn view(&self, view: &CallView) {
        let _ = self.tx.send(Shown::View(view.clone()));
    }
    fn ended(&self, ended: &CallEnded) {
        let _ = self.tx.send(Shown::Ended(ended.clone()));
    }
    fn synced(&self) {}
    fn alert(&self, from_name: &str) {
        self.alerts.lock().unwrap().push(from_name.to_string());
    }
}

struct Desk {
    agent: Arc<Agent>,
    line: Arc<PhoneLine>,
    shell: Arc<FakeShell>,
    shown: mpsc::UnboundedReceiver<Shown>,
}

impl Desk {
    async fn sign_in(url: &str, name: &str, dir: &std::path::Path) -> Desk {
        let account = Account::sign_in(
            url,
            &format!("{name}@acme.test"),
            &format!("{name}-password"),
        )
        .await
        .unwrap();
        let (agent, _) = Agent::open(&dir.join(name), account).unwrap();
        let (tx, shown) = mpsc::unbounded_channel();
        Desk {
            agent: Arc::new(agent),
            line: Arc::new(PhoneLine::default()),
            shell: Arc::new(FakeShell {
                tx,
                alerts: Mutex::default(),
            }),
            shown,
        }
    }

    fn start_line(&self) {
        self.line.start(
            &tokio::runtime::Handle::current(),
            self.agent.clone(),
            self.shell.clone(),
        );
    }

    async fn dial(&self, target: &str) -> uuid::Uuid {
        self.line
            .dial(
                self.agent.clone(),
                self.shell.clone(),
                target,
                None,
                CallPrefs::default(),
            )
            .await
            .unwrap()
    }

    /// The next thing shown that `pick` accepts, within 20 s.
    async fn next<T>(&mut self, what: &str, pick: impl Fn(&Shown) -> Option<T>) -> T {
        let wait = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                let s = self.shown.recv().await.expect("shell open");
                if let Some(t) = pick(&s) {
                    return t;
                }
            }
        });
        wait.await.unwrap_or_else(|_| panic!("never shown: {what}"))
    }

    async fn ended(&mut self) -> CallEnded {
        self.next("the call's end", |s| match s {
            Shown::Ended(e) => Some(e.clone()),
            _ => None,
        })
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_rings_through_the_shell_and_busy_or_absent_agents_are_not_rung() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let conn = softphone_server::db::open(&data).unwrap();
    for name in ["alice", "bob", "carol"] {
        softphone_server::add_user(
            &conn,
            "Acme",
            &format!("{name}@acme.test"),
            name,
            Role::Agent,
            &format!("{name}-password"),
        )
        .unwrap();
    }
    drop(conn);
    let mut cfg = softphone_server::Config::new(data);
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.media_udp_addrs = vec!["127.0.0.1:0".into()];
    let server = softphone_server::start(&cfg).await.unwrap();
    let url = format!("http://{}", server.addr);
    let mut alice = Desk::sign_in(&url, "alice", dir.path()).await;
    let mut bob = Desk::sign_in(&url, "bob", dir.path()).await;
    let mut carol = Desk::sign_in(&url, "carol", dir.path()).await;
    bob.start_line();

    // Alice calls Bob: his line rings through the shell (and asks for attention); he
    // answers and both see the call connected.
    let mut rung = None;
    for _ in 0..50 {
        // Until Bob's line is up, the server answers that he is offline.
        let call_id = alice.dial("bob").await;
        let first = alice
            .next("ringing or an end", |s| match s {
                Shown::State(CallState::RingingOut) => Some(None),
                Shown::Ended(e) => Some(Some(e.end_reason.clone())),
                _ => None,
            })
            .await;
        match first {
            None => {
                rung = Some(call_id);
                break;
            }
            Some(reason) => {
                assert_eq!(reason, "offline", "before Bob's line is up");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let call_id = rung.expect("Bob's line never came up");
    let incoming = bob
        .next("the incoming call", |s| match s {
            Shown::Incoming(i) => Some(i.clone()),
            _ => None,
        })
        .await;
    assert_eq!(incoming.from_name, "alice");
    assert_eq!(incoming.call_id, call_id);
    bob.line.command(Command::Accept).await.unwrap();
    for desk in [&mut alice, &mut bob] {
        desk.next("connected", |s| {
            matches!(s, Shown::State(CallState::Connected)).then_some(())
        })
        .await;
    }
    assert_eq!(*bob.shell.alerts.lock().unwrap(), vec!["alice".to_string()]);

    // The panel's view model: Bob mutes; his view says so once the call took it, with
    // the timer's start from when media connected.
    bob.line.command(Command::Mute(true)).await.unwrap();
    let view = bob
        .next("the muted view", |s| match s {
            Shown::View(v) if v.muted => Some(v.clone()),
            _ => None,
        })
        .await;
    assert_eq!(
        (view.call_id, view.outgoing, &view.state, view.held),
        (call_id, false, &CallState::Connected, false)
    );
    assert!(view.connected_at_ms.is_some());

    // Carol calls Bob during the call: busy, and Bob's shell shows nothing new.
    carol.dial("bob").await;
    assert_eq!(carol.ended().await.end_reason, "busy");
    // Bob's own line refuses a second call of his too.
    let e = bob
        .line
        .dial(
            bob.agent.clone(),
            bob.shell.clone(),
            "carol",
            None,
            CallPrefs::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "call.busy");

    // Alice hangs up: both shells get the end, a normal one.
    alice.line.command(Command::Hangup).await.unwrap();
    let (a, b) = (alice.ended().await, bob.ended().await);
    assert_eq!(a.end_reason, "local_hangup");
    assert_eq!(b.end_reason, "remote_hangup");
    assert!(a.normal && b.normal);
    assert_eq!(b.call_id, call_id);
    assert!(
        bob.line.command(Command::Hangup).await.is_err(),
        "the line is free"
    );

    // Bob goes busy: Carol's call is turned away without ringing him. (The presence
    // crosses one WebSocket on loopback; half a second is ample.)
    bob.line.set_presence(Presence::Busy);
    tokio::time::sleep(Duration::from_millis(500)).await;
    carol.dial("bob").await;
    assert_eq!(carol.ended().await.end_reason, "busy");
    assert!(
        bob.shown.try_recv().is_err(),
        "Bob's shell showed something while busy"
    );
    server.stop().await.unwrap();
}
