//! `linux.netDevices` (spec 1.3): host network interfaces moved into the container's new
//! network namespace, renamed if asked, with their permanent global addresses, and set up.
//! As the spec says and runc does, they are not moved back: when the namespace goes, the
//! kernel returns physical devices to the host and destroys virtual ones.
//!
//! Done by the parent over rtnetlink (netlink-packet-route builds and parses the messages),
//! once the init's namespaces exist and before the container's process runs.

use crate::error::{Error, Result};
use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use oci_spec::runtime::Spec;
use std::io;
use std::os::fd::{AsFd, AsRawFd};

/// Moves every device of `linux.netDevices` into the network namespace of `init_pid`.
pub fn move_net_devices(spec: &Spec, init_pid: i32) -> Result<()> {
    let Some(devices) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) else {
        return Ok(());
    };
    if devices.is_empty() {
        return Ok(());
    }
    let mut names: Vec<&String> = devices.keys().collect();
    names.sort();
    let ns = std::fs::File::open(format!("/proc/{init_pid}/ns/net")).map_err(|e| {
        Error::other(format!(
            "linux.netDevices: open the container's network namespace: {e}"
        ))
    })?;
    let host = Rtnl::here().map_err(|e| Error::other(format!("linux.netDevices: netlink: {e}")))?;
    let inside = Rtnl::in_namespace(&ns)
        .map_err(|e| Error::other(format!("linux.netDevices: netlink in the container: {e}")))?;
    for name in names {
        let new_name = devices[name].name().clone().unwrap_or_else(|| name.clone());
        move_one(&host, &inside, &ns, name, &new_name)
            .map_err(|e| Error::config(format!("linux.netDevices.{name}"), e))?;
    }
    Ok(())
}

/// One device: down on the host, its addresses noted, moved (and renamed) in one request,
/// the addresses put back, up inside.
fn move_one(
    host: &Rtnl,
    inside: &Rtnl,
    ns: &std::fs::File,
    name: &str,
    new_name: &str,
) -> std::result::Result<(), String> {
    let index = host
        .link_index(name)
        .map_err(|e| format!("no interface {name:?} on the host ({e})"))?;
    host.set_up(index, false)
        .map_err(|e| format!("set {name} down: {e}"))?;
    let addresses = host
        .kept_addresses(index)
        .map_err(|e| format!("list the addresses of {name}: {e}"))?;
    let mut link = LinkMessage::default();
    link.header.index = index;
    link.attributes
        .push(LinkAttribute::IfName(new_name.to_string()));
    link.attributes
        .push(LinkAttribute::NetNsFd(ns.as_fd().as_raw_fd()));
    host.ack(RouteNetlinkMessage::NewLink(link), 0)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EEXIST) => {
                format!("an interface named {new_name:?} already exists in the container")
            }
            _ => format!("move {name} into the container as {new_name}: {e}"),
        })?;
    // The kernel keeps the index when the namespace has it free, and the name otherwise
    // tells it (a `%d` template is only resolved by the kernel).
    let moved = inside
        .link_named_or_indexed(new_name, index)
        .map_err(|e| format!("find {new_name} in the container: {e}"))?;
    for mut a in addresses {
        a.header.index = moved;
        inside
            .ack(
                RouteNetlinkMessage::NewAddress(a),
                NLM_F_CREATE | NLM_F_EXCL,
            )
            .map_err(|e| format!("add an address of {name} in the container: {e}"))?;
    }
    inside
        .set_up(moved, true)
        .map_err(|e| format!("set {new_name} up in the container: {e}"))
}

/// A route netlink socket and the requests corral makes on it.
struct Rtnl {
    sock: Socket,
}

impl Rtnl {
    fn here() -> io::Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        Ok(Rtnl { sock })
    }

    /// A socket of the namespace `ns`: made after entering it (a socket stays in the
    /// namespace it was made in), and we go back at once. The parent is single-threaded.
    fn in_namespace(ns: &std::fs::File) -> io::Result<Rtnl> {
        let ours = std::fs::File::open("/proc/thread-self/ns/net")?;
        nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)?;
        let made = Rtnl::here();
        nix::sched::setns(ours.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)?;
        made
    }

    /// Sends `msg` and returns every reply message until the end of a dump or the ack.
    fn request(
        &self,
        msg: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let mut packet = NetlinkMessage::from(msg);
        packet.header.flags = NLM_F_REQUEST | flags;
        packet.header.sequence_number = 1;
        packet.finalize();
        let mut buf = vec![0; packet.header.length as usize];
        packet.serialize(&mut buf);
        self.sock.send(&buf, 0)?;
        let mut out = Vec::new();
        loop {
            let (data, _) = self.sock.recv_from_full()?;
            let mut offset = 0;
            while offset < data.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&data[offset..])
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                let len = reply.header.length as usize;
                match reply.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) if e.code.is_none() => return Ok(out),
                    NetlinkPayload::Error(e) => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
                if flags & NLM_F_DUMP == 0 && flags & NLM_F_ACK == 0 {
                    return Ok(out);
                }
                if len == 0 {
                    break;
                }
                offset += len;
            }
        }
    }

    fn ack(&self, msg: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.request(msg, NLM_F_ACK | flags).map(drop)
    }

    fn link_index(&self, name: &str) -> io::Result<u32> {
        let mut get = LinkMessage::default();
        get.attributes.push(LinkAttribute::IfName(name.to_string()));
        match self
            .request(RouteNetlinkMessage::GetLink(get), NLM_F_ACK)?
            .first()
        {
            Some(RouteNetlinkMessage::NewLink(l)) => Ok(l.header.index),
            _ => Err(io::Error::from_raw_os_error(libc::ENODEV)),
        }
    }

    /// The link called `name` (not a `%d` template), or the one at `index`.
    fn link_named_or_indexed(&self, name: &str, index: u32) -> io::Result<u32> {
        if !name.contains('%') {
            return self.link_index(name);
        }
        let mut get = LinkMessage::default();
        get.header.index = index;
        match self
            .request(RouteNetlinkMessage::GetLink(get), NLM_F_ACK)?
            .first()
        {
            Some(RouteNetlinkMessage::NewLink(l)) => Ok(l.header.index),
            _ => Err(io::Error::from_raw_os_error(libc::ENODEV)),
        }
    }

    fn set_up(&self, index: u32, up: bool) -> io::Result<()> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.header.change_mask = LinkFlags::Up;
        if up {
            link.header.flags = LinkFlags::Up;
        }
        self.ack(RouteNetlinkMessage::SetLink(link), 0)
    }

    /// The addresses of link `index` the spec says travel with it: permanent ones of global
    /// scope (RFC 3549), ready to be added again (the kernel drops them on the move).
    fn kept_addresses(&self, index: u32) -> io::Result<Vec<AddressMessage>> {
        let all = self.request(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            NLM_F_DUMP,
        )?;
        Ok(all
            .into_iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => Some(a),
                _ => None,
            })
            .filter(|a| a.header.index == index && a.header.scope == AddressScope::Universe)
            .filter(is_permanent)
            .map(|a| {
                let mut keep = AddressMessage::default();
                keep.header = a.header.clone();
                keep.attributes = a
                    .attributes
                    .into_iter()
                    .filter(|at| {
                        matches!(
                            at,
                            AddressAttribute::Address(_)
                                | AddressAttribute::Local(_)
                                | AddressAttribute::Broadcast(_)
                        )
                    })
                    .collect();
                keep
            })
            .collect())
    }
}

fn is_permanent(a: &AddressMessage) -> bool {
    a.header.flags.contains(AddressHeaderFlags::Permanent)
        || a.attributes.iter().any(
            |at| matches!(at, AddressAttribute::Flags(f) if f.contains(AddressFlags::Permanent)),
        )
}
