//! The load and mask stages: a worker's GDAL handles opened on first use, a chunk's
//! image and SCL read through the block stores (with the task's traffic when the assets
//! come from the simulated network), and the mask applied in place. Runs on the workers.

use std::sync::atomic::Ordering;

use gdal::Dataset;
use ndarray::Array2;

use super::state::{Before, ChunkData, Done, Exec, Handles, MaskedChunk};
use super::windows::{scl_window, window_of};
use crate::chunks::Chunk;
use crate::network::remote;
use crate::pipeline::report::TaskTraffic;
use crate::pipeline::{PipelineError, buffers, mask};
use crate::raster::{self, Window};
use crate::task::Stage;

impl Exec<'_> {
    /// Opens this worker's handles on first use, outside any task: the time is reported
    /// per worker (`open_ns`) as overhead, not as load work.
    fn open_handles(&self) -> Result<(), PipelineError> {
        let mut slot = self.slots[self.worker()]
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if slot.handles.is_none() {
            let worker = self.worker();
            if self.net.is_some() {
                remote::tag_thread_as_worker(worker);
            }
            let before = self.net.as_ref().and_then(|n| n.worker(worker));
            let t0 = self.clock.now_ns();
            let visual = self.scene.visual.open(self.prepared.visual_overview)?;
            let scl = self.scene.scl.open(self.prepared.scl_overview)?;
            slot.handles = Some(Handles { visual, scl });
            slot.open_ns += self.clock.now_ns() - t0;
            if let (Some(before), Some(after)) =
                (before, self.net.as_ref().and_then(|n| n.worker(worker)))
            {
                slot.open_traffic.add(&after.since(&before));
            }
        }
        Ok(())
    }

    pub(super) fn load(&self, chunk: &Chunk) -> Result<ChunkData, PipelineError> {
        self.open_handles()?;
        // A worker runs one task at a time and its requests carry its name, so the change
        // in its counts over the task is exactly the task's traffic.
        let worker = self.worker();
        let traffic0 = self.net.as_ref().and_then(|n| n.worker(worker));
        let t0 = self.clock.now_ns();
        let mut image = buffers::resident_zeros((chunk.bands, chunk.rows, chunk.cols));
        let before = Before {
            wait_ns: 0,
            alloc_ns: self.clock.now_ns() - t0,
        };
        let data = self.task(chunk, Stage::Load, before, |slot| {
            let h = slot.handles.as_ref().ok_or(PipelineError::Cancelled)?;
            let window = window_of(chunk);
            // GDAL lets go of what it decoded as soon as it is copied: a worker holds only
            // the chunks in flight (and one block while reading a local file), and a block
            // other chunks share waits in the block store (or, per task, is decoded again:
            // the read amplification the plan reports). The SCL's buffer is taken only
            // once the image is read, so it never sits empty beside GDAL's decoded image
            // blocks (at 2048 the fused schedule peaks 4 MiB lower): its allocation is
            // timed as part of the load.
            let image_buf = buffers::contiguous(&mut image);
            self.visual_blocks.read(
                &h.visual,
                &self.scene.visual,
                chunk.band0,
                window,
                image_buf,
                &|| raster::release_blocks(&h.visual),
            )?;
            let mut scl = buffers::resident_zeros((chunk.rows, chunk.cols));
            self.read_scl(&h.scl, window, &mut scl)?;
            raster::release_blocks(&h.scl);
            let bytes = (image.len() + scl.len()) as u64;
            Ok(Done::new(
                ChunkData {
                    chunk: *chunk,
                    image,
                    scl,
                },
                bytes,
            ))
        })?;
        if let (Some(before), Some(after)) =
            (traffic0, self.net.as_ref().and_then(|n| n.worker(worker)))
        {
            let delta = after.since(&before);
            let mut slot = self.slots[worker].lock().unwrap_or_else(|p| p.into_inner());
            slot.traffic.push(TaskTraffic {
                chunk: crate::convert::clamp_u32(chunk.index),
                worker: crate::convert::clamp_u16(worker),
                requests: delta.requests,
                ranges: delta.ranges,
                bytes: delta.bytes,
            });
        }
        Ok(data)
    }

    /// SCL for a window of the working grid into `out` (rows, cols); at 10 m each SCL pixel
    /// covers 2x2 grid pixels.
    fn read_scl(
        &self,
        ds: &Dataset,
        window: Window,
        out: &mut Array2<u8>,
    ) -> Result<(), PipelineError> {
        let f = self.prepared.scl_factor.max(1);
        let release = || raster::release_blocks(ds);
        if f == 1 {
            let buf = buffers::contiguous(out);
            return Ok(self
                .scl_blocks
                .read(ds, &self.scene.scl, 0, window, buf, &release)?);
        }
        let src = scl_window(window, f);
        let mut small = Array2::<u8>::zeros((src.rows, src.cols));
        self.scl_blocks.read(
            ds,
            &self.scene.scl,
            0,
            src,
            buffers::contiguous(&mut small),
            &release,
        )?;
        for ((r, c), v) in out.indexed_iter_mut() {
            *v = small[[
                (window.row0 + r) / f - src.row0,
                (window.col0 + c) / f - src.col0,
            ]];
        }
        Ok(())
    }

    /// Masks the image in place and lets go of the SCL. The task's `bytes` are the image
    /// it keeps: the buffer accounting frees the rest of the load's bytes when it ends.
    pub(super) fn mask(&self, data: ChunkData) -> Result<MaskedChunk, PipelineError> {
        let ChunkData {
            chunk,
            mut image,
            scl,
        } = data;
        self.task(&chunk, Stage::Mask, Before::default(), |_| {
            let n = mask::apply(&mut image, &scl, &self.config.cloud_classes);
            drop(scl);
            // A pixel is counted once, by the chunk holding the first band.
            if chunk.band0 == 0 {
                self.masked.fetch_add(n, Ordering::Relaxed);
            }
            let kept = image.len() as u64;
            Ok(Done::new(MaskedChunk { chunk, image }, kept))
        })
    }
}
