//! Per-request state of the module: a Rust value owned by the request pool.
//!
//! nginx keeps one context pointer per module per request (`r->ctx[ctx_index]`). Ours
//! points to a `ReqCtx` in the request pool whose pool cleanup drops it, so it may hold owned Rust
//! values (the identity for variables, a login in progress, a job's result) and they
//! are freed exactly when nginx frees the request, also when the client went away. The
//! same cleanup tells the bridge the request is gone, so a late result touches nothing.

use std::cell::{Cell, RefCell, RefMut};
use std::rc::Rc;

use nginx_sys::ngx_http_request_t;
use ngx::http::HttpModule;
use oidc_core::token::Claims;

use crate::bridge::{waiters, Outcome};
use crate::handler::callback::CallbackFlow;
use crate::AuthOidcModule;

/// Who the request is, as the `$oidc_*` variables show it.
#[derive(Default)]
pub struct Identity {
    /// How the request was authenticated: "session" or "bearer" (`$oidc_auth_type`).
    pub kind: &'static str,
    pub claims: Claims,
    pub id_token: Option<String>,
    pub access_token: Option<String>,
    /// The userinfo response as JSON text.
    pub userinfo: Option<String>,
}

impl Identity {
    /// The heap memory an identity held by an `Rc` takes, as the allocator sees it
    /// (`oidc_core::heap_size`): the `Rc` block, the decoded claims and the texts. For the
    /// caches bounded by memory, whose bound holds only if entries are charged this.
    pub fn heap_size(&self) -> usize {
        use oidc_core::heap_size::{block, json_object};
        let rc_header = 2 * core::mem::size_of::<usize>();
        let text = |s: &Option<String>| s.as_ref().map_or(0, |s| block(s.capacity()));
        block(rc_header + core::mem::size_of::<Identity>())
            + json_object(&self.claims)
            + text(&self.access_token)
            + text(&self.id_token)
            + text(&self.userinfo)
    }
}

pub struct ReqCtx {
    /// The result of this request's own job (token exchange, userinfo ...), delivered
    /// by the bridge before the request is resumed.
    pub outcome: Option<Outcome>,
    /// The module let the request through as this identity.
    pub identity: Option<Rc<Identity>>,
    /// A login callback being processed across suspensions.
    pub callback: Option<Box<CallbackFlow>>,
    /// A variable asked for the identity before the access phase, and the session
    /// cookie was looked at for it (see `handler::probe_session`).
    pub probed: bool,
    /// Waiting for the token endpoint to renew the session's access token.
    pub refreshing: bool,
    /// A bearer token being checked across suspensions.
    pub bearer: Option<crate::handler::bearer::BearerFlow>,
    /// The request body (form_post callback, logout form) has been read.
    pub body_read: bool,
    /// The access handler is waiting for the body (the read continues asynchronously).
    pub body_pending: bool,
    /// The answer to this request's last session-store command.
    pub store_reply: Option<crate::handler::store_io::Reply>,
    /// An invalidation from Redis arrived while that command was in flight: a value it
    /// read may be one the invalidation was about.
    pub store_reply_raced: bool,
    /// A server-side session loaded before a suspension (refresh in progress).
    pub loaded: Option<(oidc_core::session::Session, crate::cache::session_local::Backing)>,
    /// A single-flight refresh in progress.
    pub flight: Option<crate::handler::refresh::Flight>,
    /// The reference of the session a login is creating in the store.
    pub new_ref: Option<oidc_core::session_ref::SessionRef>,
    /// Logout with a Redis store: the step reached, and the session read (for the ID
    /// token hint and the tokens to revoke).
    pub logout_step: u8,
    pub logout_session: Option<oidc_core::session::Session>,
    /// A logout started by the OP (back- or front-channel) in progress.
    pub op_logout: Option<Box<crate::handler::op_logout::OpLogout>>,
}

impl ReqCtx {
    fn new() -> Self {
        ReqCtx {
            outcome: None,
            identity: None,
            callback: None,
            bearer: None,
            refreshing: false,
            probed: false,
            body_read: false,
            body_pending: false,
            store_reply: None,
            store_reply_raced: false,
            loaded: None,
            flight: None,
            new_ref: None,
            logout_step: 0,
            logout_session: None,
            op_logout: None,
        }
    }
}

/// The request's context as the pool holds it. The handlers' state is in a `RefCell`,
/// so that code which reaches it through different routes (the access handler, a
/// variable getter, a resumption, the body-read callback) can never hold two
/// `&mut ReqCtx` at once: a second borrow while one is alive fails (`try_borrow_mut`)
/// instead of aliasing. The suspension's id is apart, in a `Cell`: a handler suspends
/// its request while it holds its state.
pub struct CtxCell {
    /// Suspended, waiting for the runtime thread: the suspension's id in the bridge's
    /// wait table (see `bridge::waiters`).
    pub wait_id: Cell<Option<u64>>,
    state: RefCell<ReqCtx>,
}

impl CtxCell {
    /// The handlers' state for writing, or None when it is already borrowed further up
    /// the stack (a bug: the caller then answers as if there were no context, never
    /// aliasing it).
    pub fn borrow(&self) -> Option<RefMut<'_, ReqCtx>> {
        self.state.try_borrow_mut().ok()
    }
}

/// The request's context, created on first use.
///
/// # Safety
/// `r` must be a live request, and `'a` must not outlive its pool.
pub unsafe fn request_ctx<'a>(r: *mut ngx_http_request_t) -> Option<&'a CtxCell> {
    let idx = AuthOidcModule::module().ctx_index;
    let slot = (*r).ctx.add(idx);
    if (*slot).is_null() {
        // The context lives in the request pool (no malloc per request); the cleanup
        // drops it in place when nginx frees the pool.
        let cln = nginx_sys::ngx_pool_cleanup_add((*r).pool, core::mem::size_of::<CtxCell>());
        if cln.is_null() {
            return None;
        }
        let ctx = (*cln).data.cast::<CtxCell>();
        if ctx.align_offset(core::mem::align_of::<CtxCell>()) != 0 {
            return None;
        }
        ctx.write(CtxCell { wait_id: Cell::new(None), state: RefCell::new(ReqCtx::new()) });
        (*cln).handler = Some(drop_ctx);
        *slot = ctx.cast();
    }
    // Only shared references to the cell are handed out; mutation goes through it.
    Some(&*(*slot).cast::<CtxCell>())
}

/// The context if it exists (variables of a request the module never saw have none).
///
/// # Safety
/// `r` must be a live request, and `'a` must not outlive its pool.
pub unsafe fn existing_ctx<'a>(r: *mut ngx_http_request_t) -> Option<&'a CtxCell> {
    let idx = AuthOidcModule::module().ctx_index;
    let p = *(*r).ctx.add(idx);
    if p.is_null() {
        None
    } else {
        Some(&*p.cast::<CtxCell>())
    }
}

guarded! { fn drop_ctx(data: *mut core::ffi::c_void) = drop_ctx_body; }
unsafe fn drop_ctx_body(data: *mut core::ffi::c_void) {
    let ctx = data.cast::<CtxCell>();
    // The pool is being destroyed: the request is gone for good.
    waiters::forget((*ctx).wait_id.get());
    core::ptr::drop_in_place(ctx);
}
