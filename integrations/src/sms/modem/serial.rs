//! Opening a serial device (or any tty) for the driver, without a serial-port crate.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::termios::{self, BaudRate, ControlFlags, FlushArg, SetArg, SpecialCharacterIndices};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A non-blocking tty driven by tokio's reactor (epoll), so a read can be cancelled by a timeout
/// without leaving a blocked thread behind (which `tokio::fs::File` would).
#[derive(Debug)]
pub struct SerialPort {
    fd: AsyncFd<File>,
}

/// Opens a serial device (`/dev/ttyUSB2`) as a modem wants it: raw mode (no echo, no line
/// editing, no CR/LF translation), 8N1, no flow control, `baud` both ways, input discarded.
/// Must be called inside a tokio runtime.
pub fn open_serial(path: impl AsRef<Path>, baud: u32) -> io::Result<SerialPort> {
    let speed = baud_rate(baud).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("unsupported baud rate {baud}"))
    })?;
    // O_NOCTTY: a modem must never become our controlling terminal.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc_flags(OFlag::O_NOCTTY | OFlag::O_NONBLOCK))
        .open(path)?;
    let mut tio = termios::tcgetattr(file.as_fd())?;
    termios::cfmakeraw(&mut tio);
    tio.control_flags |= ControlFlags::CLOCAL | ControlFlags::CREAD;
    tio.control_flags &= !(ControlFlags::CRTSCTS | ControlFlags::CSTOPB | ControlFlags::PARENB);
    tio.control_chars[SpecialCharacterIndices::VMIN as usize] = 1;
    tio.control_chars[SpecialCharacterIndices::VTIME as usize] = 0;
    termios::cfsetspeed(&mut tio, speed)?;
    termios::tcsetattr(file.as_fd(), SetArg::TCSANOW, &tio)?;
    termios::tcflush(file.as_fd(), FlushArg::TCIOFLUSH)?;
    SerialPort::from_fd(file.into())
}

impl SerialPort {
    /// Wraps an already configured descriptor (e.g. a pseudo-terminal master in tests), making it
    /// non-blocking. Must be called inside a tokio runtime.
    pub fn from_fd(fd: OwnedFd) -> io::Result<SerialPort> {
        let flags = OFlag::from_bits_truncate(fcntl(fd.as_fd(), FcntlArg::F_GETFL)?);
        fcntl(fd.as_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
        // SAFETY: the `File` owns the descriptor and is owned by the `AsyncFd` for its whole
        // life; nothing else closes or replaces it (no `&mut File` is ever handed out).
        let fd = unsafe { AsyncFd::register(File::from(fd)) }.map_err(|e| e.into_parts().1)?;
        Ok(SerialPort { fd })
    }
}

fn libc_flags(flags: OFlag) -> i32 {
    flags.bits()
}

fn baud_rate(baud: u32) -> Option<BaudRate> {
    Some(match baud {
        1200 => BaudRate::B1200,
        2400 => BaudRate::B2400,
        4800 => BaudRate::B4800,
        9600 => BaudRate::B9600,
        19200 => BaudRate::B19200,
        38400 => BaudRate::B38400,
        57600 => BaudRate::B57600,
        115200 => BaudRate::B115200,
        230400 => BaudRate::B230400,
        460800 => BaudRate::B460800,
        921600 => BaudRate::B921600,
        _ => return None,
    })
}

impl AsyncRead for SerialPort {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|inner| inner.get_ref().read(unfilled)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for SerialPort {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|inner| inner.get_ref().write(data)) {
                Ok(result) => return Poll::Ready(result),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the kernel; there is no user-space buffer to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
