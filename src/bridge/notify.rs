//! An eventfd registered in nginx's event loop: the runtime thread writes to it, nginx
//! sees it readable and calls our handler on the worker's own thread.

use std::os::fd::RawFd;
use std::sync::Arc;

use nginx_sys::{ngx_connection_t, ngx_cycle_t, ngx_event_t};

pub struct Notifier {
    conn: *mut ngx_connection_t,
    fd: Arc<FdGuard>,
}

/// The fd number, shared with the writer so it is not reused while the thread lives.
struct FdGuard(RawFd);

#[derive(Clone)]
pub struct Writer(Arc<FdGuard>);

impl Writer {
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writing 8 bytes to an eventfd; EAGAIN (counter full) still leaves it readable.
        unsafe { libc::write(self.0 .0, ptr_of(&one), 8) };
    }
}

fn ptr_of(v: &u64) -> *const libc::c_void {
    (v as *const u64).cast()
}

static mut HANDLER: Option<fn()> = None;

impl Notifier {
    pub fn register(cycle: &mut ngx_cycle_t, handler: fn()) -> Result<Notifier, String> {
        // SAFETY: plain syscalls and nginx connection setup on the worker thread.
        unsafe {
            let fd = libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC);
            if fd < 0 {
                return Err(format!("eventfd: {}", std::io::Error::last_os_error()));
            }
            let conn = nginx_sys::ngx_get_connection(fd, cycle.log);
            if conn.is_null() {
                libc::close(fd);
                return Err("no free connection for the eventfd (worker_connections too low?)".into());
            }
            HANDLER = Some(handler);
            let rev = (*conn).read;
            (*rev).handler = Some(on_readable);
            (*rev).log = cycle.log;
            (*(*conn).write).log = cycle.log;
            (*conn).log = cycle.log;
            if nginx_sys::ngx_handle_read_event(rev, 0) != nginx_sys::NGX_OK as nginx_sys::ngx_int_t {
                nginx_sys::ngx_free_connection(conn);
                libc::close(fd);
                return Err("cannot add the eventfd to the event loop".into());
            }
            Ok(Notifier { conn, fd: Arc::new(FdGuard(fd)) })
        }
    }

    pub fn writer(&self) -> Writer {
        Writer(self.fd.clone())
    }

    pub fn close(self) {
        // SAFETY: the connection was created by ngx_get_connection in this worker;
        // ngx_close_connection removes it from the event loop and closes the fd.
        unsafe { nginx_sys::ngx_close_connection(self.conn) };
    }
}

guarded! { fn on_readable(ev: *mut ngx_event_t) = on_readable_body; }
fn on_readable_body(ev: *mut ngx_event_t) {
    // SAFETY: ev is our connection's read event; c->fd is the eventfd.
    unsafe {
        let c = (*ev).data.cast::<ngx_connection_t>();
        let mut counter: u64 = 0;
        // Edge-triggered: read until EAGAIN so the next write raises a new event.
        while libc::read((*c).fd, (&mut counter as *mut u64).cast(), 8) == 8 {}
        if let Some(h) = HANDLER {
            h();
        }
    }
}
