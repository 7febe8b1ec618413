//! Shared test support: a frame builder, a BPF_PROG_TEST_RUN harness over
//! the real programs, network-namespace labs, packet capture and a runner
//! for the `rsdr` binary. The tests themselves live in `tests/`.

#[cfg(feature = "datapath")]
pub mod bench;
pub mod cli;
pub mod conf;
pub mod corpus;
pub mod daemon;
#[cfg(feature = "datapath")]
pub mod datapath;
pub mod dr;
#[cfg(feature = "datapath")]
pub mod fixture;
pub mod frames;
pub mod hex;
pub mod http;
pub mod inject;
#[cfg(feature = "datapath")]
pub mod kernel;
pub mod lab;
#[cfg(feature = "datapath")]
pub mod model;
pub mod netns;
pub mod pcap;
pub mod prober;
pub mod root;
pub mod two_node;
