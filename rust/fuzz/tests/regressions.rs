//! Replays, under plain `cargo test`, every input the fuzzers ever broke the decoder with
//! (`regressions/<target>-<n>.bin`, minimised) and every fixture frame through every target's
//! checks. Run from `rust/fuzz`: `cargo test --no-default-features` (no libFuzzer needed).

use std::fs;
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use _native::decode::{Engine, Limits, Numbers, State};
use _native::error::FailureKind;
use pushwire_fuzz::{
    decode_frame, gunzip_target, gzip, json_target, mutate_frame_target, plan, small_limits, Flags,
    EXCHANGES,
};

/// Inputs of findings still open in `rust/src` (README.md, "Regression tests"), none today:
/// `saved_inputs_pass` skips them, and each gets an `#[ignore]`d test below until the fix lands.
const OPEN: &[&str] = &[];

/// Run `f` on a worker thread; fail if it has not returned within `budget` (a hang: the worker
/// is left behind and ends with the test process).
fn within(budget: Duration, what: &str, f: impl FnOnce() + Send + 'static) {
    let (done, wait) = mpsc::channel();
    let start = Instant::now();
    let worker = thread::spawn(move || {
        f();
        let _ = done.send(());
    });
    match wait.recv_timeout(budget) {
        Ok(()) => worker.join().expect("worker"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The worker panicked: re-raise its panic here.
            if let Err(p) = worker.join() {
                std::panic::resume_unwind(p);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what}: still running after {:?} (a hang)", start.elapsed())
        }
    }
}

fn regression(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("regressions")
        .join(name);
    fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn target(name: &str) -> fn(&[u8]) {
    match name {
        "decode_frame" => decode_frame,
        "json" => json_target,
        "gunzip" => gunzip_target,
        "mutate_frame" => mutate_frame_target,
        other => panic!("regressions/: no target {other:?}"),
    }
}

#[test]
fn saved_inputs_pass() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    let mut names: Vec<_> = fs::read_dir(&dir)
        .expect("rust/fuzz/regressions")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    names.sort();
    for path in names {
        let file = path.file_name().and_then(|s| s.to_str()).expect("name");
        if OPEN.contains(&file) {
            eprintln!("skipping {file} (open finding)");
            continue;
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).expect("name");
        let (name, _) = stem.rsplit_once('-').expect("<target>-<n>.bin");
        let data = fs::read(&path).expect("read");
        eprintln!("replaying {}", path.display());
        let run = target(name);
        within(Duration::from_secs(60), file, move || run(&data));
    }
}

/// F1: a 49 KB gzip frame (16 MiB inflated, under the default limits) of an htx `positions`
/// push with 22k records and 1.4M members after `data` in the root. Every record looks up
/// `ts` and `event` in the root; when `Value::get_id` scanned the root's members linearly, the
/// decode was O(records x members): about two minutes, where the reference decoder (a dict) is
/// linear. Fixed by the tape decoder's per-object member index; this keeps it fixed.
#[test]
fn f1_root_lookups_are_not_quadratic() {
    let frame = regression("decode_frame-1.bin");
    within(Duration::from_secs(20), "decode_frame-1.bin", move || {
        let eng =
            Engine::new(plan().clone(), "htx", Numbers::Float, Limits::default()).expect("htx");
        let mut st = State::default();
        let mut scratch = Vec::new();
        let out = eng.decode(&mut st, &frame, &mut scratch);
        assert!(out.failure.is_none(), "{:?}", out.failure);
        assert!(out.events.len() >= 22_017, "a position event per record");
    });
}

/// F2: a corrupt gzip member (a distance too far back). CPython's zlib, and zlib-rs with a small
/// output buffer, say "invalid distance too far back"; zlib-rs's fast path (taken with the
/// buffer the default 16 MiB cap gives) overwrote that with "repeated call with bad state".
/// Fixed in `inflate::gunzip` (a second pass in windows under 258 bytes); this keeps it fixed.
#[test]
fn f2_gzip_error_message_does_not_depend_on_the_cap() {
    // A valid frame that leaves a large buffer behind in the reused scratch.
    let big = gzip(
        format!("{{\"pad\":\"{}\"}}", "x".repeat(1 << 20)).as_bytes(),
        9,
    );
    for name in ["gunzip-1.bin", "gunzip-2.bin"] {
        let input = regression(name);
        let member = &input[3..];
        for limits in [small_limits(), Limits::default()] {
            let eng = Engine::new(plan().clone(), "htx", Numbers::Float, limits).expect("htx");
            let mut st = State::default();
            let mut scratch = Vec::new();
            for warm in [false, true] {
                if warm {
                    let _ = eng.decode(&mut st, &big, &mut scratch);
                }
                let out = eng.decode(&mut st, member, &mut scratch);
                match out.failure.map(|f| f.into_kind()) {
                    Some(FailureKind::Decode { message, .. }) => assert_eq!(
                        message, "bad gzip data: invalid distance too far back",
                        "{name}, max_inflated_bytes {}, warm scratch {warm}",
                        limits.max_inflated_bytes
                    ),
                    other => panic!("{name}: {other:?}"),
                }
            }
        }
    }
}

/// The fixture frames (the seeds of every corpus) pass every target's checks.
#[test]
fn fixture_frames_pass() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut n = 0;
    for (ex, exchange) in EXCHANGES.iter().enumerate() {
        let mut files: Vec<_> = fs::read_dir(root.join(exchange))
            .expect("fixtures")
            .map(|e| e.expect("dir entry").path())
            .collect();
        files.sort();
        for file in files {
            for line in fs::read_to_string(&file).expect("read").lines() {
                if line.trim().is_empty() {
                    continue;
                }
                let case: serde_json::Value = serde_json::from_str(line).expect("fixture JSON");
                let text = match &case["frame"] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let gz = case["gzip"] == serde_json::Value::Bool(true);
                let wire = if gz {
                    gzip(text.as_bytes(), 6)
                } else {
                    text.clone().into_bytes()
                };
                decode_frame(&wire);
                json_target(text.as_bytes());
                let mut g = vec![0, 0x40, 0];
                g.extend_from_slice(&gzip(text.as_bytes(), 9));
                gunzip_target(&g);
                let mut m = vec![Flags::new(ex, gz, n % 2 == 0, n % 3 == 0).0];
                m.extend_from_slice(text.as_bytes());
                mutate_frame_target(&m);
                n += 1;
            }
        }
    }
    assert!(n > 200, "only {n} fixture frames");
}

/// The mutator is deterministic in its seed and keeps JSON JSON.
#[test]
fn mutator_keeps_json() {
    let frame = br#"{"topic":"position","ts":1700000000123,"data":{"positions":[{"s":"PERP_BTC_USDT","h":"-0.5","ps":"BOTH"}]}}"#;
    let mut input = vec![1u8];
    input.extend_from_slice(frame);
    let mut mutated = 0;
    for seed in 0..2000u32 {
        let mut a = input.clone();
        a.resize(1 << 16, 0);
        let mut b = a.clone();
        let na = pushwire_fuzz::mutate::mutate_input(&mut a, input.len(), 1 << 16, seed);
        let nb = pushwire_fuzz::mutate::mutate_input(&mut b, input.len(), 1 << 16, seed);
        assert_eq!(na, nb);
        if let Some(n) = na {
            assert_eq!(a[..n], b[..n]);
            assert!(
                pushwire_fuzz::mutate::Node::parse(&a[1..n]).is_some(),
                "seed {seed}"
            );
            mutate_frame_target(&a[..n]);
            mutated += 1;
        }
    }
    assert!(
        mutated > 1500,
        "only {mutated} of 2000 mutations kept the frame JSON"
    );
}
