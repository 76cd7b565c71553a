//! Recording a request's metrics allocates nothing once its route has been seen, and
//! neither do a request's id and cached principal as they are passed along: a counting
//! global allocator (this test binary's own) checks it, per thread, so other threads'
//! allocations do not disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use axum::http::Method;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same layout as asked.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn recording_requests_does_not_allocate() {
    let routes = ["/api/v1/tasks/{id}", "/api/v1/projects", "<unmatched>"];
    let odd = Method::from_bytes(b"BREW").expect("method");
    for route in routes {
        tenantry::metrics::record_request(&Method::GET, route, 200, Duration::ZERO);
    }
    let _guard = tenantry::metrics::InFlight::start();
    let before = allocations();
    for i in 0..10_000u64 {
        let route = routes[(i % 3) as usize];
        let method = [&Method::GET, &Method::PATCH, &odd][(i % 3) as usize];
        let status = [200, 404, 429, 503][(i % 4) as usize];
        let _in_flight = tenantry::metrics::InFlight::start();
        tenantry::metrics::record_request(method, route, status, Duration::from_micros(i));
        tenantry::metrics::record_query(Duration::from_micros(i));
        tenantry::metrics::record_pool_wait(Duration::from_micros(i));
    }
    assert_eq!(allocations() - before, 0);
    // The counter itself works: rendering allocates, and is counted.
    let _ = tenantry::metrics::render(
        tenantry::metrics::PoolSnapshot {
            max_size: 1,
            connections: 1,
            idle: 1,
        },
        true,
    );
    assert!(allocations() > before);
}

/// The request id and the principal a tenant request carries are shared, not copied:
/// keeping the client's `x-request-id`, cloning it (extension, tenant context, database
/// task, response header) and a principal-cache hit allocate nothing.
#[test]
fn request_ids_and_principal_cache_hits_do_not_allocate() {
    use std::sync::Arc;
    use tenantry::auth::Role;
    use tenantry::auth::principal_cache::{Principal, PrincipalCache};
    use tenantry::request_id::RequestId;

    let header = axum::http::HeaderValue::from_static("client-chosen-id-123");
    let cache = PrincipalCache::default();
    let (tenant, user) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let principal = Principal {
        role: Role::Member,
        is_active: true,
        tenant_status: tenantry::models::tenant::TenantStatus::Active,
        features: serde_json::json!({"expenses": true, "items": true}),
        tokens_valid_after: None,
    };
    let (_, generation) = cache.get(tenant, user);
    cache.insert(tenant, user, Arc::new(principal), generation);
    let before = allocations();
    for _ in 0..1_000 {
        let id = RequestId::from_incoming(Some(&header));
        let copies = (id.clone(), id.clone(), id.header_value());
        assert_eq!(copies.0.as_str(), "client-chosen-id-123");
        let (hit, _) = cache.get(tenant, user);
        assert!(hit.is_some_and(|p| p.is_active));
    }
    assert_eq!(allocations() - before, 0);
    // A generated id is one allocation (its header value), and counted.
    let _ = RequestId::from_incoming(None);
    assert!(allocations() > before);
}
