//! The four API operations on caches: `DescribeImageCaches`,
//! `CreateImageCache`, `UpdateImageCache` and `DeleteImageCache`.

use jiff::Timestamp;

use super::client_tokens::Idempotency;
use super::lifecycle::{Run, record_pulling};
use super::{
    CreateRequest, CreateResponse, DEFAULT_ACCOUNT, DeleteRequest, Engine, FailureCheck, Operation,
    RegionKey, TokenAction, UpdateRequest,
};
use crate::clock;
use crate::describe::{DescribePage, DescribeRequest};
use crate::error::ApiError;
use crate::index::Scratch;
use crate::limits::DEFAULT_SIZE_GIB;
use crate::record::{CacheStatus, EventKind, ImageCache};

impl Engine {
    /// `DescribeImageCaches` for the default account.
    ///
    /// # Errors
    ///
    /// As [`Engine::describe_as`].
    pub fn describe(&mut self, request: &DescribeRequest) -> Result<DescribePage<'_>, ApiError> {
        self.describe_as(DEFAULT_ACCOUNT, request)
    }

    /// `DescribeImageCaches` for an account: applies what became due, then
    /// answers one page (see [`Index::describe_with`](crate::index::Index::describe_with)).
    ///
    /// # Errors
    ///
    /// What [`DescribeRequest::validate`] finds (`MissingParameter` or
    /// `InvalidParameter`, naming the parameter), and
    /// `InvalidParameter.NextToken` for a token this query did not make.
    /// Nothing changes but the clock's due transitions.
    pub fn describe_as(
        &mut self,
        account: &str,
        request: &DescribeRequest,
    ) -> Result<DescribePage<'_>, ApiError> {
        self.tick();
        let Engine {
            regions,
            empty,
            scratch,
            ..
        } = self;
        let index = super::region_key::find(regions, account, &request.region_id)
            .map_or(&*empty, |r| &r.index);
        index.describe_with(request, scratch)
    }

    /// `DescribeImageCaches` without applying due transitions first (for
    /// readers that share the engine; see [`SharedEngine`](super::SharedEngine)).
    ///
    /// # Errors
    ///
    /// As [`Engine::describe_as`].
    pub fn describe_as_of_last_tick<'a>(
        &'a self,
        account: &str,
        request: &DescribeRequest,
        scratch: &mut Scratch,
    ) -> Result<DescribePage<'a>, ApiError> {
        self.region_index(account, &request.region_id)
            .describe_with(request, scratch)
    }

    /// `CreateImageCache` for the default account.
    ///
    /// # Errors
    ///
    /// As [`Engine::create_as`].
    pub fn create(&mut self, request: &CreateRequest) -> Result<CreateResponse, ApiError> {
        self.create_as(DEFAULT_ACCOUNT, request)
    }

    /// `CreateImageCache` for an account: the cache starts `Preparing`,
    /// and the clock moves it on (section 6).
    ///
    /// # Errors
    ///
    /// What [`CreateRequest::validate`] finds, in the order of section 5;
    /// `IdempotentParameterMismatch` for a `ClientToken` a different
    /// create used within its lifetime (the same create with it gets the
    /// first answer again); `QuotaExceeded` when the region is full and
    /// eviction is off or finds no victim. A refused call changes nothing.
    pub fn create_as(
        &mut self,
        account: &str,
        request: &CreateRequest,
    ) -> Result<CreateResponse, ApiError> {
        request.validate()?;
        self.tick();
        let now = self.clock.now();
        let key = (account.to_owned(), request.region_id.clone());
        let call = Idempotency::of(
            TokenAction::Create,
            request.client_token.as_deref(),
            request,
        );
        if let Some(region) = self.regions.get(&key)
            && let Some(answer) = region.replay(&call)?
        {
            return Ok(answer.expect("a create remembers its answer"));
        }
        if let Some(region) = self.regions.get_mut(&key)
            && region.created >= self.config.quota
        {
            let victim = region.index.lru_order().next().map(|c| c.id().to_owned());
            match victim {
                Some(victim) => {
                    region.remove_cache(&victim);
                }
                None => return Err(ApiError::quota_exceeded()),
            }
        } else if self.config.quota == 0 {
            return Err(ApiError::quota_exceeded());
        }
        self.region_mut(&key);
        let id = self.ids.image_cache_id();
        let container_group_id = self.ids.container_group_id();
        let mut cache = ImageCache::created(
            [&id, &request.image_cache_name, &request.region_id],
            [
                request.resource_group_id.as_deref(),
                Some(&container_group_id),
            ],
            &request.images,
            &request.tags,
            now,
        );
        cache.size_gib = request.image_cache_size.unwrap_or(DEFAULT_SIZE_GIB);
        cache.elimination_strategy = request.elimination_strategy;
        cache.settings = request.settings.clone().into();
        cache.expire_time = expiry(now, cache.settings.retention_days);
        let answer = CreateResponse {
            image_cache_id: id,
            container_group_id,
        };
        self.start_create(&key, cache, now);
        self.region_mut(&key)
            .remember(&call, Some(answer.clone()), now.as_second());
        self.touched(&key);
        Ok(answer)
    }

    /// Inserts a new cache in `Preparing` and starts its create.
    pub(super) fn start_create(&mut self, key: &RegionKey, mut cache: ImageCache, now: Timestamp) {
        let failure = self.failure.as_ref().and_then(|f| {
            f.check(&FailureCheck {
                operation: Operation::Create,
                region_id: &key.1,
                image_cache_id: cache.id(),
                image_cache_name: cache.name(),
                images: cache.images(),
            })
        });
        let name = self.ids.event_name(cache.name());
        cache.record_event(
            EventKind::Normal,
            "Started",
            "Successfully check image cache resource.",
            now,
            || name,
        );
        let id = cache.id().to_owned();
        let run = Run::begin(
            Operation::Create,
            now.as_second(),
            self.config.durations,
            failure,
            self.ids.nonce(),
        );
        let Engine { regions, ids, .. } = self;
        let region = regions.get_mut(key).expect("region exists");
        region.insert_cache(cache);
        region.runs.insert(id.clone(), run);
        region.reschedule(&id);
        region.apply_due(now.as_second(), ids);
        self.touched(key);
    }

    /// `UpdateImageCache` for the default account.
    ///
    /// # Errors
    ///
    /// As [`Engine::update_as`].
    pub fn update(&mut self, request: &UpdateRequest) -> Result<(), ApiError> {
        self.update_as(DEFAULT_ACCOUNT, request)
    }

    /// `UpdateImageCache` for an account: the cache goes `Updating` and the
    /// clock moves it on.
    ///
    /// # Errors
    ///
    /// What [`UpdateRequest::validate`] finds; `InvalidImageCacheId.NotFound`
    /// for a cache the account's region does not hold;
    /// `IdempotentParameterMismatch` as for a create; `OperationConflict`
    /// unless the cache is `Ready` or `UpdateFailed`; `NoNeedUpdate` when
    /// the request would change nothing. A refused call changes nothing.
    pub fn update_as(&mut self, account: &str, request: &UpdateRequest) -> Result<(), ApiError> {
        request.validate()?;
        self.tick();
        let now = self.clock.now();
        let key = (account.to_owned(), request.region_id.clone());
        let call = Idempotency::of(
            TokenAction::Update,
            request.client_token.as_deref(),
            request,
        );
        let not_found = || ApiError::image_cache_id_not_found(&request.image_cache_id);
        let region = self.regions.get(&key).ok_or_else(not_found)?;
        if region.replay(&call)?.is_some() {
            return Ok(());
        }
        let old = region
            .index
            .get(&request.image_cache_id)
            .ok_or_else(not_found)?;
        if !matches!(old.status, CacheStatus::Ready | CacheStatus::UpdateFailed) {
            return Err(ApiError::operation_conflict());
        }
        let mut new = old.clone();
        apply_update(&mut new, request);
        if new == *old {
            return Err(ApiError::no_need_update());
        }
        let failure = self.failure.as_ref().and_then(|f| {
            f.check(&FailureCheck {
                operation: Operation::Update,
                region_id: &key.1,
                image_cache_id: new.id(),
                image_cache_name: new.name(),
                images: new.images(),
            })
        });
        new.status = CacheStatus::Updating;
        new.progress = 0;
        let name = self.ids.event_name(new.name());
        new.record_event(
            EventKind::Normal,
            "UpdateStarted",
            "Started updating image cache.",
            now,
            || name,
        );
        record_pulling(&mut new, now, |name| self.ids.event_name(name));
        let run = Run::begin(
            Operation::Update,
            now.as_second(),
            self.config.durations,
            failure,
            self.ids.nonce(),
        );
        let Engine { regions, ids, .. } = self;
        let region = regions.get_mut(&key).expect("region exists");
        region.replace_cache(new);
        region.runs.insert(request.image_cache_id.clone(), run);
        region.reschedule(&request.image_cache_id);
        region.apply_due(now.as_second(), ids);
        region.remember(&call, None, now.as_second());
        self.touched(&key);
        Ok(())
    }

    /// `DeleteImageCache` for the default account.
    ///
    /// # Errors
    ///
    /// As [`Engine::delete_as`].
    pub fn delete(&mut self, request: &DeleteRequest) -> Result<(), ApiError> {
        self.delete_as(DEFAULT_ACCOUNT, request)
    }

    /// `DeleteImageCache` for an account: allowed in every state.
    ///
    /// # Errors
    ///
    /// What [`DeleteRequest::validate`] finds; `InvalidImageCacheId.NotFound`
    /// for a cache the account's region does not hold (a second delete);
    /// `IdempotentParameterMismatch` as for a create. A refused call
    /// changes nothing.
    pub fn delete_as(&mut self, account: &str, request: &DeleteRequest) -> Result<(), ApiError> {
        request.validate()?;
        self.tick();
        let now = self.clock.now().as_second();
        let key = (account.to_owned(), request.region_id.clone());
        let call = Idempotency::of(
            TokenAction::Delete,
            request.client_token.as_deref(),
            request,
        );
        let not_found = || ApiError::image_cache_id_not_found(&request.image_cache_id);
        let region = self.regions.get_mut(&key).ok_or_else(not_found)?;
        if region.replay(&call)?.is_some() {
            return Ok(());
        }
        if !region.remove_cache(&request.image_cache_id) {
            return Err(not_found());
        }
        region.remember(&call, None, now);
        self.touched(&key);
        Ok(())
    }
}

/// `CreationTime + RetentionDays`.
fn expiry(creation: Timestamp, retention_days: Option<u32>) -> Option<Timestamp> {
    retention_days.map(|d| clock::timestamp(creation.as_second().saturating_add(d as i64 * 86_400)))
}

/// Applies an update's given parameters to a copy of the cache.
fn apply_update(cache: &mut ImageCache, r: &UpdateRequest) {
    if let Some(name) = &r.image_cache_name {
        cache.set_name(name);
    }
    if let Some(images) = &r.images {
        cache.set_images(images);
    }
    if let Some(size) = r.image_cache_size {
        cache.size_gib = size;
    }
    if let Some(group) = &r.resource_group_id {
        cache.set_resource_group_id(Some(group));
    }
    if let Some(strategy) = r.elimination_strategy {
        cache.elimination_strategy = strategy;
    }
    if let Some(tags) = &r.tags {
        cache.set_tags(tags);
    }
    let s = &mut cache.settings;
    if let Some(v) = &r.acr_registry_info {
        s.acr_registry_info.clone_from(v);
    }
    if let Some(v) = &r.image_registry_credentials {
        s.image_registry_credentials.clone_from(v);
    }
    if let Some(v) = r.auto_match_image_cache {
        s.auto_match_image_cache = Some(v);
    }
    if let Some(v) = &r.eip_instance_id {
        s.eip_instance_id = Some(v.clone());
    }
    if let Some(v) = &r.security_group_id {
        s.security_group_id = Some(v.clone());
    }
    if let Some(v) = &r.v_switch_id {
        s.v_switch_id = Some(v.clone());
    }
    if let Some(v) = r.retention_days {
        s.retention_days = Some(v);
        cache.expire_time = expiry(cache.creation_time, Some(v));
    }
    if let Some(v) = r.flash {
        s.flash = Some(v);
    }
    if let Some(v) = r.flash_copy_count {
        s.flash_copy_count = Some(v);
    }
    if let Some(v) = r.standard_copy_count {
        s.standard_copy_count = Some(v);
    }
}
