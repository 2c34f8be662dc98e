//! Listening sockets: one per network thread, with SO_REUSEPORT when there are several.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn set_int(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, v: libc::c_int) -> io::Result<()> {
    // SAFETY: passes a live c_int and its size.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// A blocking listener bound to `addr` (the backends set what they need).
pub(crate) fn bind(addr: SocketAddr, reuseport: bool, recv_buffer: u32) -> io::Result<TcpListener> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    #[cfg(target_os = "linux")]
    let ty = libc::SOCK_STREAM | libc::SOCK_CLOEXEC;
    #[cfg(not(target_os = "linux"))]
    let ty = libc::SOCK_STREAM;
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe { OwnedFd::from_raw_fd(cvt(libc::socket(domain, ty, 0))?) };
    set_int(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if reuseport {
        set_int(&fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    }
    if recv_buffer > 0 {
        // Before listen(2), so the window scale offered to clients fits the buffer.
        set_int(
            &fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            recv_buffer as libc::c_int,
        )?;
    }
    // SAFETY: the sockaddr structs are zeroed then filled, and passed with their size.
    unsafe {
        match addr {
            SocketAddr::V4(a) => {
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_port = a.port().to_be();
                sa.sin_addr = libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                };
                cvt(libc::bind(
                    fd.as_raw_fd(),
                    (&sa as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                ))?;
            }
            SocketAddr::V6(a) => {
                let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_port = a.port().to_be();
                sa.sin6_addr = libc::in6_addr {
                    s6_addr: a.ip().octets(),
                };
                sa.sin6_flowinfo = a.flowinfo();
                sa.sin6_scope_id = a.scope_id();
                cvt(libc::bind(
                    fd.as_raw_fd(),
                    (&sa as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                ))?;
            }
        }
        cvt(libc::listen(fd.as_raw_fd(), 1024))?;
    }
    Ok(TcpListener::from(fd))
}

/// `threads` listeners on `addr`; with port 0 the first picks the port and the others
/// share it.
pub(crate) fn bind_all(
    addr: SocketAddr,
    threads: usize,
    recv_buffer: u32,
) -> io::Result<Vec<TcpListener>> {
    let reuseport = threads > 1;
    let first = bind(addr, reuseport, recv_buffer)?;
    let actual = first.local_addr()?;
    let mut v = vec![first];
    for _ in 1..threads {
        v.push(bind(actual, reuseport, recv_buffer)?);
    }
    Ok(v)
}

/// Sets TCP_NODELAY on an accepted socket (answers are small and latency matters).
pub(crate) fn set_nodelay(fd: libc::c_int) {
    let one: libc::c_int = 1;
    // SAFETY: passes a live c_int and its size; failure only costs latency.
    unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}
