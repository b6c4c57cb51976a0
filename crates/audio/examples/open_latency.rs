//! Times each step of opening the default capture device.
//! `cargo run --release -p softphone-audio --example open_latency`
use cpal::traits::{DeviceTrait, HostTrait};
use std::time::Instant;

fn main() {
    let t = Instant::now();
    let host = cpal::default_host();
    println!("default_host ({:?}): {:?}", host.id(), t.elapsed());
    let t = Instant::now();
    let dev = host.default_input_device().expect("no default input");
    println!("default_input_device: {:?}", t.elapsed());
    let t = Instant::now();
    let cfg = dev.default_input_config().expect("config");
    println!("default_input_config ({cfg:?}): {:?}", t.elapsed());
    let t = Instant::now();
    let src = softphone_audio::CpalSource::open(None).expect("open");
    println!(
        "CpalSource::open total: {:?} ({:?})",
        t.elapsed(),
        src.device_format()
    );
}
