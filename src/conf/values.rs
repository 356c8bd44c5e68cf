//! Parsing of directive arguments (sizes, times, flags) with nginx's own parsers, so the
//! accepted syntax is exactly nginx's (`10s`, `5m`, `256k`, `1m`).

use nginx_sys::{ngx_conf_t, ngx_http_complex_value_t, ngx_str_t, NGX_ERROR};

/// The arguments of the directive being parsed, as byte slices (the name first).
pub fn args(cf: &ngx_conf_t) -> Vec<&'static [u8]> {
    // SAFETY: during parsing cf->args is an array of ngx_str_t owned by the cycle pool.
    unsafe {
        let arr = &*cf.args;
        let elts = core::slice::from_raw_parts(arr.elts as *const ngx_str_t, arr.nelts);
        elts.iter().map(|s| if s.len == 0 { &[][..] } else { core::slice::from_raw_parts(s.data, s.len) }).collect()
    }
}

pub fn utf8(bytes: &[u8]) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "is not valid UTF-8".to_string())
}

/// A time in seconds (`30s`, `5m`, `1h`, a bare number means seconds).
pub fn seconds(bytes: &[u8]) -> Result<u64, String> {
    let mut s = ngx_str_t { len: bytes.len(), data: bytes.as_ptr().cast_mut() };
    // SAFETY: ngx_parse_time only reads the string.
    let v = unsafe { nginx_sys::ngx_parse_time(&mut s, 1) };
    if v == NGX_ERROR as isize || v < 0 {
        return Err(format!("invalid time \"{}\"", String::from_utf8_lossy(bytes)));
    }
    Ok(v as u64)
}

/// A time in milliseconds (`500ms`, `10s`).
pub fn millis(bytes: &[u8]) -> Result<u64, String> {
    let mut s = ngx_str_t { len: bytes.len(), data: bytes.as_ptr().cast_mut() };
    // SAFETY: ngx_parse_time only reads the string.
    let v = unsafe { nginx_sys::ngx_parse_time(&mut s, 0) };
    if v == NGX_ERROR as isize || v < 0 {
        return Err(format!("invalid time \"{}\"", String::from_utf8_lossy(bytes)));
    }
    Ok(v as u64)
}

/// A size in bytes (`512`, `64k`, `1m`).
pub fn size(bytes: &[u8]) -> Result<usize, String> {
    let mut s = ngx_str_t { len: bytes.len(), data: bytes.as_ptr().cast_mut() };
    // SAFETY: ngx_parse_size only reads the string.
    let v = unsafe { nginx_sys::ngx_parse_size(&mut s) };
    if v == NGX_ERROR as isize || v < 0 {
        return Err(format!("invalid size \"{}\"", String::from_utf8_lossy(bytes)));
    }
    Ok(v as usize)
}

pub fn flag(bytes: &[u8]) -> Result<bool, String> {
    match bytes {
        b"on" => Ok(true),
        b"off" => Ok(false),
        _ => Err(format!("invalid value \"{}\", it must be \"on\" or \"off\"", String::from_utf8_lossy(bytes))),
    }
}

/// "FILE:LINE" of the directive being parsed, for errors reported after parsing.
pub fn place(cf: &ngx_conf_t) -> String {
    // SAFETY: conf_file is set while a configuration file is being parsed.
    unsafe {
        if cf.conf_file.is_null() {
            return "configuration".into();
        }
        let f = &*cf.conf_file;
        format!("{}:{}", f.file.name, f.line)
    }
}

/// Compiles argument `index` of the directive being parsed as a complex value (a string
/// with variables), in the configuration pool, as nginx's own directives do. None: nginx
/// has logged why (an unknown variable, say).
pub fn complex_value(cf: &mut ngx_conf_t, index: usize) -> Option<*mut ngx_http_complex_value_t> {
    // SAFETY: during parsing cf->args holds at least index + 1 strings owned by the cycle
    // pool, which also owns the compiled value.
    unsafe {
        if index >= (*cf.args).nelts {
            return None;
        }
        let cv = nginx_sys::ngx_pcalloc(cf.pool, core::mem::size_of::<ngx_http_complex_value_t>())
            .cast::<ngx_http_complex_value_t>();
        if cv.is_null() {
            return None;
        }
        let elts = (*cf.args).elts.cast::<ngx_str_t>();
        let mut ccv: nginx_sys::ngx_http_compile_complex_value_t = core::mem::zeroed();
        ccv.cf = cf;
        ccv.value = elts.add(index);
        ccv.complex_value = cv;
        if nginx_sys::ngx_http_compile_complex_value(&mut ccv) != nginx_sys::NGX_OK as nginx_sys::ngx_int_t {
            return None;
        }
        Some(cv)
    }
}
