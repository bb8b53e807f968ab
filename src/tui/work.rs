//! The TUI's background work in one place. A run, a sweep, a lesson step or a Dask run
//! takes the one [`Slot`]: each would disturb the others' timings, so one rule
//! ([`Slot::start`], with the message of [`Kind::busy_message`]) refuses a second one and
//! says what holds the slot and how to go on. Inspections (a scene's assets, its grid, a
//! STAC search) go on beside it, as many as the user asks for while browsing scenes, so
//! that browsing never waits for a run. One call cancels the work ([`Slot::cancel`]) and
//! one waits for every thread ([`Slot::shutdown`], also on drop): when the TUI ends, no
//! thread of its own is left inside GDAL, so the process exits normally.
//!
//! Owned by the session on the UI thread; the work itself runs on threads of its own.

use super::app::Msg;
use super::job::Job;
use super::model::busy::Kind;

/// What every kind of background work offers the slot.
pub trait Background {
    /// What happened since the last poll, and whether the work is over (its thread then
    /// joined and the work done with).
    fn poll(&mut self) -> (Vec<Msg>, bool);
    /// Asks the work to stop at its next check (each kind says where that is).
    fn cancel(&self);
    /// Cancels the work and waits for its thread.
    fn shutdown(self: Box<Self>);
}

/// The session's background work: at most one holder of the slot, and the inspections
/// beside it.
#[derive(Default)]
pub struct Slot {
    held: Option<(Kind, Box<dyn Background>)>,
    beside: Vec<Box<dyn Background>>,
}

impl Slot {
    /// What holds the slot, if anything.
    pub fn busy(&self) -> Option<Kind> {
        self.held.as_ref().map(|(kind, _)| *kind)
    }

    /// Inspections not answered yet.
    #[cfg(test)]
    pub fn inspections(&self) -> usize {
        self.beside.len()
    }

    /// The busy rule: starts the work `start` makes in the slot when it is free. When it
    /// is not, `start` is not called and the error says what holds the slot and how to go
    /// on; `start`'s own error is passed on.
    pub fn start(
        &mut self,
        kind: Kind,
        start: impl FnOnce() -> Result<Box<dyn Background>, String>,
    ) -> Result<(), String> {
        if let Some(held) = self.busy() {
            return Err(held.busy_message());
        }
        self.held = Some((kind, start()?));
        Ok(())
    }

    /// Starts an inspection beside whatever holds the slot: never refused.
    pub fn inspect(&mut self, inspection: Inspection) {
        self.beside.push(Box::new(inspection));
    }

    /// What every piece of work sent since the last poll, the inspections first, in the
    /// order they were started; work that is over leaves the slot.
    pub fn poll(&mut self) -> Vec<Msg> {
        let mut msgs = Vec::new();
        self.beside.retain_mut(|job| {
            let (said, over) = job.poll();
            msgs.extend(said);
            !over
        });
        if let Some((_, job)) = self.held.as_mut() {
            let (said, over) = job.poll();
            msgs.extend(said);
            if over {
                self.held = None;
            }
        }
        msgs
    }

    /// Cancels the work holding the slot (`c`, Esc, `q`). Inspections are left to finish:
    /// they are short, and a search has its own cancel (Esc on its form).
    pub fn cancel(&self) {
        if let Some((_, job)) = &self.held {
            job.cancel();
        }
    }

    /// Cancels everything, then waits for every thread. An inspection of a remote raster
    /// cannot be interrupted inside GDAL; GDAL's network time limits bound the wait.
    pub fn shutdown(&mut self) {
        let all: Vec<Box<dyn Background>> = (self.held.take().map(|(_, job)| job))
            .into_iter()
            .chain(self.beside.drain(..))
            .collect();
        for job in &all {
            job.cancel();
        }
        for job in all {
            job.shutdown();
        }
    }
}

impl Drop for Slot {
    /// A slot dropped without [`Slot::shutdown`] (a test's session) still leaves no thread.
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// An inspection on a thread of its own: one message when it is over.
pub struct Inspection(Job<Msg>);

impl Inspection {
    /// Runs `work` on a thread; `cancel` is the flag `work` checks, if it checks one (a
    /// search between pages); opening a raster does not.
    pub fn spawn(
        cancel: chunkscope::task::CancelFlag,
        work: impl FnOnce() -> Msg + Send + 'static,
    ) -> Result<Self, String> {
        Job::spawn("chunkscope-inspect", "the inspection", cancel, move |_| {
            Ok(work())
        })
        .map(Self)
    }
}

impl Background for Inspection {
    fn poll(&mut self) -> (Vec<Msg>, bool) {
        match self.0.finished() {
            Some(Ok(msg)) => (vec![msg], true),
            Some(Err(e)) => (vec![Msg::Log(e)], true),
            None => (Vec::new(), false),
        }
    }

    fn cancel(&self) {
        self.0.cancel();
    }

    fn shutdown(self: Box<Self>) {
        self.0.shutdown();
    }
}

#[cfg(test)]
mod tests {
    //! The slot with work that only waits to be cancelled: the busy rule, the cancel path
    //! and the shutdown, kind by kind.
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};

    use chunkscope::task::CancelFlag;

    use super::*;

    const KINDS: [Kind; 4] = [Kind::Run, Kind::Sweep, Kind::LessonStep, Kind::Dask];

    /// Runs on a real thread until `flag` is set, then takes a while to stop (as a run
    /// finishes its tasks in flight) and marks `ended` as the thread's last act.
    fn wait_for(flag: CancelFlag, ended: Arc<AtomicBool>) {
        while !flag.is_cancelled() {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(200));
        ended.store(true, Ordering::SeqCst);
    }

    /// Work holding the slot that waits to be cancelled.
    struct Waiting(Job<()>);

    impl Background for Waiting {
        fn poll(&mut self) -> (Vec<Msg>, bool) {
            let over = self.0.finished().is_some();
            (vec![Msg::Log("polled".into())], over)
        }
        fn cancel(&self) {
            self.0.cancel();
        }
        fn shutdown(self: Box<Self>) {
            self.0.shutdown();
        }
    }

    /// Starts waiting work of `kind` in `slot`: its cancel flag and whether it ended.
    fn hold(slot: &mut Slot, kind: Kind) -> (CancelFlag, Arc<AtomicBool>) {
        let (flag, ended) = (CancelFlag::new(), Arc::new(AtomicBool::new(false)));
        let (f, e) = (flag.clone(), Arc::clone(&ended));
        slot.start(kind, || {
            let job = Job::spawn("test-holder", "the test work", flag.clone(), move |_| {
                wait_for(f, e);
                Ok(())
            })?;
            Ok(Box::new(Waiting(job)))
        })
        .unwrap();
        (flag, ended)
    }

    /// Starts an inspection in `slot` that waits to be cancelled.
    fn inspect(slot: &mut Slot) -> (CancelFlag, Arc<AtomicBool>) {
        let (flag, ended) = (CancelFlag::new(), Arc::new(AtomicBool::new(false)));
        let (f, e) = (flag.clone(), Arc::clone(&ended));
        let inspection = Inspection::spawn(flag.clone(), move || {
            wait_for(f, e);
            Msg::Log("inspected".into())
        })
        .unwrap();
        slot.inspect(inspection);
        (flag, ended)
    }

    #[test]
    fn the_busy_rule_refuses_any_second_holder_with_the_holders_one_message() {
        for held in KINDS {
            let mut slot = Slot::default();
            hold(&mut slot, held);
            assert_eq!(slot.busy(), Some(held));
            for second in KINDS {
                let mut started = false;
                let refused = slot.start(second, || {
                    started = true;
                    Err("started".into())
                });
                assert_eq!(
                    refused,
                    Err(held.busy_message()),
                    "{second:?} while {held:?}"
                );
                assert!(!started, "{second:?} while {held:?}: nothing may start");
            }
            assert_eq!(slot.busy(), Some(held));
        }
        // Each message names what is busy and how to go on.
        let said: Vec<String> = KINDS.iter().map(|k| k.busy_message()).collect();
        assert_eq!(
            said[0],
            "a run is going: wait for it, or cancel it (c on the run screen)"
        );
        assert!(said[1].starts_with("a sweep is going") && said[1].contains("(c on"));
        assert!(said[2].starts_with("a lesson step is") && said[2].contains("(Esc"));
        assert!(said[3].starts_with("a Dask run is") && said[3].contains("(Esc"));
    }

    #[test]
    fn inspections_go_on_beside_the_holder_and_never_make_it_busy() {
        let mut slot = Slot::default();
        inspect(&mut slot);
        inspect(&mut slot);
        assert_eq!((slot.busy(), slot.inspections()), (None, 2));
        hold(&mut slot, Kind::Run);
        inspect(&mut slot);
        assert_eq!((slot.busy(), slot.inspections()), (Some(Kind::Run), 3));
    }

    #[test]
    fn cancel_reaches_the_holder_of_each_kind_and_it_leaves_the_slot() {
        for kind in KINDS {
            let mut slot = Slot::default();
            let (cancelled, ended) = hold(&mut slot, kind);
            let (inspection, _) = inspect(&mut slot);
            slot.cancel();
            assert!(cancelled.is_cancelled(), "{kind:?}");
            assert!(!inspection.is_cancelled(), "inspections are left to finish");
            let deadline = Instant::now() + Duration::from_secs(10);
            while slot.busy().is_some() {
                assert!(Instant::now() < deadline, "{kind:?} did not stop");
                slot.poll();
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(
                ended.load(Ordering::SeqCst),
                "its thread is over and joined"
            );
            // The slot is free again.
            hold(&mut slot, Kind::Sweep);
        }
    }

    #[test]
    fn shutdown_returns_only_once_every_thread_ended() {
        let mut slot = Slot::default();
        let flags = [
            inspect(&mut slot),
            hold(&mut slot, Kind::LessonStep),
            inspect(&mut slot),
        ];
        slot.shutdown();
        for (cancelled, ended) in &flags {
            assert!(cancelled.is_cancelled());
            assert!(ended.load(Ordering::SeqCst), "a thread outlived shutdown");
        }
        assert_eq!((slot.busy(), slot.inspections()), (None, 0));
        // Dropping a slot shuts it down the same way.
        let mut slot = Slot::default();
        let (_, held) = hold(&mut slot, Kind::Run);
        let (_, inspecting) = inspect(&mut slot);
        drop(slot);
        assert!(held.load(Ordering::SeqCst), "a thread outlived the slot");
        assert!(
            inspecting.load(Ordering::SeqCst),
            "a thread outlived the slot"
        );
    }

    #[test]
    fn an_inspection_answers_once_and_leaves() {
        let mut slot = Slot::default();
        slot.inspect(Inspection::spawn(CancelFlag::new(), || Msg::Log("answer".into())).unwrap());
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut said = Vec::new();
        while slot.inspections() > 0 {
            assert!(Instant::now() < deadline, "the inspection did not answer");
            said.extend(slot.poll());
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(
            matches!(&said[..], [Msg::Log(l)] if l == "answer"),
            "{said:?}"
        );
    }
}
