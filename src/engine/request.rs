//! Typed `CreateImageCache`, `UpdateImageCache` and `DeleteImageCache`
//! requests and responses, with the limits of `behaviour.md` sections 5
//! and 6.

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::limits::{
    MAX_CACHE_IMAGES, MAX_CACHE_NAME, MAX_CACHE_TAGS, MAX_CLIENT_TOKEN, MAX_CREDENTIALS,
    MAX_FREE_TEXT, MAX_ID_TEXT, MAX_RETENTION_DAYS, MAX_SIZE_GIB, MAX_TAG_TEXT, MAX_VSWITCHES,
    MIN_SIZE_GIB,
};
use crate::record::{
    AcrRegistryInfo, CacheSettings, CachedImage, EliminationStrategy, RegistryCredential, Tag,
    check_region_id,
};

/// A `CreateImageCache` request.
///
/// ```
/// use eci_imagecache::engine::CreateRequest;
///
/// let request = CreateRequest::new("cn-hangzhou", "web")
///     .image("nginx:1.25")?
///     .tag("env", "prod")
///     .size_gib(40)
///     .client_token("c-1");
/// assert!(request.validate().is_ok());
/// assert!(CreateRequest::new("cn-hangzhou", "Web").image("nginx")?.validate().is_ok());
/// assert!(CreateRequest::new("cn-hangzhou", "web").image("nginx")?.tag("acs:x", "1").validate().is_err());
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateRequest {
    /// `RegionId` (required).
    pub region_id: String,
    /// `ImageCacheName` (required): 1–128 characters without control
    /// characters. Need not be unique.
    pub image_cache_name: String,
    /// `Image.N` (1–20), kept as written.
    pub images: Vec<CachedImage>,
    /// `ImageCacheSize`, GiB (20–32768, default 20).
    pub image_cache_size: Option<u32>,
    /// `ResourceGroupId`.
    pub resource_group_id: Option<String>,
    /// `EliminationStrategy`.
    pub elimination_strategy: EliminationStrategy,
    /// `Tag.N` (at most 20).
    pub tags: Vec<Tag>,
    /// `ClientToken` (at most 64 printable ASCII characters).
    pub client_token: Option<String>,
    /// Everything else: ACR info, credentials, network, retention, flash.
    pub settings: CacheSettings,
}

impl CreateRequest {
    /// A request for a cache named `name` in `region_id`, without images yet.
    pub fn new(region_id: impl Into<String>, name: impl Into<String>) -> Self {
        CreateRequest {
            region_id: region_id.into(),
            image_cache_name: name.into(),
            ..CreateRequest::default()
        }
    }

    /// Adds an image (`Image.N`, N the next number).
    ///
    /// # Errors
    ///
    /// `InvalidParameter` naming `Image.N`, with the parser's reason, for
    /// a reference that does not parse.
    pub fn image(mut self, image: &str) -> Result<Self, ApiError> {
        let n = self.images.len() + 1;
        self.images.push(
            CachedImage::parse(image).map_err(|e| ApiError::invalid(&format!("Image.{n}"), e))?,
        );
        Ok(self)
    }

    /// Adds a tag.
    pub fn tag(mut self, key: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        self.tags.push(Tag::new(key, value));
        self
    }

    /// Sets `ImageCacheSize`.
    pub fn size_gib(mut self, gib: u32) -> Self {
        self.image_cache_size = Some(gib);
        self
    }

    /// Sets `RetentionDays`.
    pub fn retention_days(mut self, days: u32) -> Self {
        self.settings.retention_days = Some(days);
        self
    }

    /// Sets `EliminationStrategy=LRU`.
    pub fn lru(mut self) -> Self {
        self.elimination_strategy = EliminationStrategy::Lru;
        self
    }

    /// Sets `ClientToken`.
    pub fn client_token(mut self, token: impl Into<String>) -> Self {
        self.client_token = Some(token.into());
        self
    }

    /// Checks every limit of section 5.
    ///
    /// # Errors
    ///
    /// The first parameter at fault, in this order: region, name given,
    /// resource group, name, images, size, tags, token, then the settings:
    /// `MissingParameter` for a required one absent, `InvalidParameter`
    /// naming it otherwise.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_region_id(&self.region_id)?;
        required("ImageCacheName", &self.image_cache_name)?;
        if let Some(group) = &self.resource_group_id {
            check_text("ResourceGroupId", group, MAX_ID_TEXT)?;
        }
        validate_name(&self.image_cache_name)?;
        if self.images.is_empty() {
            return Err(ApiError::missing("Image.1"));
        }
        validate_images(&self.images)?;
        validate_size(self.image_cache_size)?;
        validate_tags(&self.tags)?;
        validate_token(self.client_token.as_deref())?;
        validate_settings(&self.settings)
    }
}

/// An `UpdateImageCache` request: omitted parameters keep their value; a
/// given list replaces the stored one.
///
/// ```
/// use eci_imagecache::engine::UpdateRequest;
///
/// let request = UpdateRequest::new("cn-hangzhou", "imc-0123456789abcdefghij")
///     .images(["nginx:1.26"])?;
/// assert!(request.validate().is_ok());
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateRequest {
    /// `RegionId` (required).
    pub region_id: String,
    /// `ImageCacheId` (required).
    pub image_cache_id: String,
    /// `ImageCacheName`.
    pub image_cache_name: Option<String>,
    /// `Image.N`: replaces the images.
    pub images: Option<Vec<CachedImage>>,
    /// `ImageCacheSize`.
    pub image_cache_size: Option<u32>,
    /// `ResourceGroupId`.
    pub resource_group_id: Option<String>,
    /// `EliminationStrategy`.
    pub elimination_strategy: Option<EliminationStrategy>,
    /// `Tag.N`: replaces the tags.
    pub tags: Option<Vec<Tag>>,
    /// `ClientToken`.
    pub client_token: Option<String>,
    /// `AcrRegistryInfo.N`: replaces the list.
    pub acr_registry_info: Option<Vec<AcrRegistryInfo>>,
    /// `ImageRegistryCredential.N`: replaces the list.
    pub image_registry_credentials: Option<Vec<RegistryCredential>>,
    /// `AutoMatchImageCache`.
    pub auto_match_image_cache: Option<bool>,
    /// `EipInstanceId`.
    pub eip_instance_id: Option<String>,
    /// `SecurityGroupId`.
    pub security_group_id: Option<String>,
    /// `VSwitchId`.
    pub v_switch_id: Option<String>,
    /// `RetentionDays`.
    pub retention_days: Option<u32>,
    /// `Flash`.
    pub flash: Option<bool>,
    /// `FlashCopyCount`.
    pub flash_copy_count: Option<u32>,
    /// `StandardCopyCount`.
    pub standard_copy_count: Option<u32>,
}

impl UpdateRequest {
    /// A request that changes nothing yet.
    pub fn new(region_id: impl Into<String>, image_cache_id: impl Into<String>) -> Self {
        UpdateRequest {
            region_id: region_id.into(),
            image_cache_id: image_cache_id.into(),
            ..UpdateRequest::default()
        }
    }

    /// Replaces the images.
    ///
    /// # Errors
    ///
    /// `InvalidParameter` naming `Image.N`, with the parser's reason, for
    /// a reference that does not parse.
    pub fn images<'a>(
        mut self,
        images: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, ApiError> {
        self.images = Some(
            images
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    CachedImage::parse(s)
                        .map_err(|e| ApiError::invalid(&format!("Image.{}", i + 1), e))
                })
                .collect::<Result<_, _>>()?,
        );
        Ok(self)
    }

    /// Replaces the tags.
    pub fn tags(mut self, tags: impl IntoIterator<Item = Tag>) -> Self {
        self.tags = Some(tags.into_iter().collect());
        self
    }

    /// Sets `ImageCacheName`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.image_cache_name = Some(name.into());
        self
    }

    /// Sets `ImageCacheSize`.
    pub fn size_gib(mut self, gib: u32) -> Self {
        self.image_cache_size = Some(gib);
        self
    }

    /// Sets `ClientToken`.
    pub fn client_token(mut self, token: impl Into<String>) -> Self {
        self.client_token = Some(token.into());
        self
    }

    /// Checks every limit (those of Create, for what is given).
    ///
    /// # Errors
    ///
    /// As [`CreateRequest::validate`], for the parameters given, and
    /// `MissingParameter` without `ImageCacheId`.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_region_id(&self.region_id)?;
        required("ImageCacheId", &self.image_cache_id)?;
        check_text("ImageCacheId", &self.image_cache_id, MAX_ID_TEXT)?;
        if let Some(group) = &self.resource_group_id {
            check_text("ResourceGroupId", group, MAX_ID_TEXT)?;
        }
        if let Some(name) = &self.image_cache_name {
            validate_name(name)?;
        }
        if let Some(images) = &self.images {
            if images.is_empty() {
                return Err(ApiError::missing("Image.1"));
            }
            validate_images(images)?;
        }
        validate_size(self.image_cache_size)?;
        if let Some(tags) = &self.tags {
            validate_tags(tags)?;
        }
        validate_token(self.client_token.as_deref())?;
        let settings = CacheSettings {
            acr_registry_info: self.acr_registry_info.clone().unwrap_or_default(),
            image_registry_credentials: self.image_registry_credentials.clone().unwrap_or_default(),
            v_switch_id: self.v_switch_id.clone(),
            retention_days: self.retention_days,
            flash_copy_count: self.flash_copy_count,
            standard_copy_count: self.standard_copy_count,
            ..CacheSettings::default()
        };
        validate_settings(&settings)
    }
}

/// A `DeleteImageCache` request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteRequest {
    /// `RegionId` (required).
    pub region_id: String,
    /// `ImageCacheId` (required).
    pub image_cache_id: String,
    /// `ClientToken`.
    pub client_token: Option<String>,
}

impl DeleteRequest {
    /// A request to delete one cache.
    pub fn new(region_id: impl Into<String>, image_cache_id: impl Into<String>) -> Self {
        DeleteRequest {
            region_id: region_id.into(),
            image_cache_id: image_cache_id.into(),
            client_token: None,
        }
    }

    /// Checks the required parameters and the token.
    ///
    /// # Errors
    ///
    /// `MissingParameter` for an absent `RegionId` or `ImageCacheId`,
    /// `InvalidParameter` for a malformed region, an over-long id or token.
    pub fn validate(&self) -> Result<(), ApiError> {
        check_region_id(&self.region_id)?;
        required("ImageCacheId", &self.image_cache_id)?;
        check_text("ImageCacheId", &self.image_cache_id, MAX_ID_TEXT)?;
        validate_token(self.client_token.as_deref())
    }
}

/// What `CreateImageCache` answers (besides the `RequestId`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateResponse {
    /// `ImageCacheId`.
    pub image_cache_id: String,
    /// `ContainerGroupId`: the container group that builds the cache.
    pub container_group_id: String,
}

fn required(name: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() {
        Err(ApiError::missing(name))
    } else {
        Ok(())
    }
}

/// 1–128 characters without control characters. No rule beyond that is
/// documented for image caches (the lower-case-and-`-` rule is the
/// container groups'), so `my_cache` and `Web` are names.
fn validate_name(name: &str) -> Result<(), ApiError> {
    if name.is_empty() {
        return Err(ApiError::missing("ImageCacheName"));
    }
    check_text("ImageCacheName", name, MAX_CACHE_NAME)
}

fn validate_images(images: &[CachedImage]) -> Result<(), ApiError> {
    if images.len() > MAX_CACHE_IMAGES {
        return Err(ApiError::invalid(
            "Image",
            format_args!("at most {MAX_CACHE_IMAGES} images"),
        ));
    }
    Ok(())
}

fn validate_size(size: Option<u32>) -> Result<(), ApiError> {
    match size {
        Some(s) if !(MIN_SIZE_GIB..=MAX_SIZE_GIB).contains(&s) => Err(ApiError::invalid(
            "ImageCacheSize",
            format_args!("must be {MIN_SIZE_GIB} to {MAX_SIZE_GIB} GiB"),
        )),
        _ => Ok(()),
    }
}

/// At most 20 tags with distinct keys; a key is 1–128 characters, a value
/// at most 128, neither starting with `aliyun` or `acs:` nor holding
/// `http://` or `https://` (Alibaba Cloud's tag rules).
fn validate_tags(tags: &[Tag]) -> Result<(), ApiError> {
    if tags.len() > MAX_CACHE_TAGS {
        return Err(ApiError::invalid(
            "Tag",
            format_args!("at most {MAX_CACHE_TAGS} tags"),
        ));
    }
    for (i, tag) in tags.iter().enumerate() {
        let n = i + 1;
        if tag.key().is_empty() {
            return Err(ApiError::missing(&format!("Tag.{n}.Key")));
        }
        check_tag_text(&format!("Tag.{n}.Key"), tag.key())?;
        check_tag_text(&format!("Tag.{n}.Value"), tag.value())?;
        if tags[..i].iter().any(|t| t.key() == tag.key()) {
            return Err(ApiError::invalid(
                &format!("Tag.{n}.Key"),
                format_args!("the key {:?} is given twice", tag.key()),
            ));
        }
    }
    Ok(())
}

/// A tag key or value: at most 128 characters, no control characters, not
/// starting with `aliyun` or `acs:`, no `http://` or `https://`.
fn check_tag_text(name: &str, text: &str) -> Result<(), ApiError> {
    check_text(name, text, MAX_TAG_TEXT)?;
    if text.starts_with("aliyun") || text.starts_with("acs:") {
        return Err(ApiError::invalid(
            name,
            "must not start with \"aliyun\" or \"acs:\"",
        ));
    }
    if text.contains("http://") || text.contains("https://") {
        return Err(ApiError::invalid(
            name,
            "must not contain \"http://\" or \"https://\"",
        ));
    }
    Ok(())
}

/// Free text: at most `max` characters and no control characters.
pub(crate) fn check_text(name: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::invalid(
            name,
            format_args!("at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(name, "must not hold control characters"));
    }
    Ok(())
}

/// At most 64 printable ASCII characters.
fn validate_token(token: Option<&str>) -> Result<(), ApiError> {
    let Some(token) = token else { return Ok(()) };
    if token.len() > MAX_CLIENT_TOKEN {
        return Err(ApiError::invalid(
            "ClientToken",
            format_args!("at most {MAX_CLIENT_TOKEN} characters"),
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(ApiError::invalid(
            "ClientToken",
            "may hold only printable ASCII characters",
        ));
    }
    Ok(())
}

fn validate_settings(s: &CacheSettings) -> Result<(), ApiError> {
    // In this order: which error a request with several faults gets is
    // part of the contract.
    check_retention(s)?;
    check_setting_texts(s)?;
    check_credentials(s)?;
    check_acr_instances(s)?;
    check_v_switches(s)?;
    check_acr_domains(s)?;
    check_copy_counts(s)
}

/// `RetentionDays` within 1 to [`MAX_RETENTION_DAYS`].
fn check_retention(s: &CacheSettings) -> Result<(), ApiError> {
    if let Some(days) = s.retention_days
        && !(1..=MAX_RETENTION_DAYS).contains(&days)
    {
        return Err(ApiError::invalid(
            "RetentionDays",
            format_args!("must be 1 to {MAX_RETENTION_DAYS}"),
        ));
    }
    Ok(())
}

/// The length (and characters) of every text setting: ids, free texts,
/// credentials' and ACR instances' fields.
fn check_setting_texts(s: &CacheSettings) -> Result<(), ApiError> {
    let ids = [
        ("EipInstanceId", &s.eip_instance_id),
        ("SecurityGroupId", &s.security_group_id),
        ("ZoneId", &s.zone_id),
    ];
    for (name, value) in ids {
        if let Some(v) = value {
            check_text(name, v, MAX_ID_TEXT)?;
        }
    }
    if let Some(v) = &s.v_switch_id {
        check_text("VSwitchId", v, MAX_FREE_TEXT)?;
    }
    let free = [
        ("Annotations", &s.annotations),
        ("InsecureRegistry", &s.insecure_registry),
        ("PlainHttpRegistry", &s.plain_http_registry),
    ];
    for (name, value) in free {
        if let Some(v) = value {
            check_text(name, v, MAX_FREE_TEXT)?;
        }
    }
    for (i, c) in s.image_registry_credentials.iter().enumerate() {
        let n = i + 1;
        check_text(
            &format!("ImageRegistryCredential.{n}.Server"),
            &c.server,
            MAX_ID_TEXT,
        )?;
        check_text(
            &format!("ImageRegistryCredential.{n}.UserName"),
            &c.user_name,
            MAX_ID_TEXT,
        )?;
        check_text(
            &format!("ImageRegistryCredential.{n}.Password"),
            &c.password,
            MAX_FREE_TEXT,
        )?;
    }
    for (i, info) in s.acr_registry_info.iter().enumerate() {
        let n = i + 1;
        let fields = [
            ("InstanceId", &info.instance_id),
            ("InstanceName", &info.instance_name),
            ("RegionId", &info.region_id),
            ("ArnService", &info.arn_service),
            ("ArnUser", &info.arn_user),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                check_text(&format!("AcrRegistryInfo.{n}.{name}"), v, MAX_ID_TEXT)?;
            }
        }
        for domain in &info.domains {
            check_text(
                &format!("AcrRegistryInfo.{n}.Domain"),
                domain,
                MAX_FREE_TEXT,
            )?;
        }
    }
    Ok(())
}

/// At most [`MAX_CREDENTIALS`] credentials, each server an address without
/// its scheme.
fn check_credentials(s: &CacheSettings) -> Result<(), ApiError> {
    if s.image_registry_credentials.len() > MAX_CREDENTIALS {
        return Err(ApiError::invalid(
            "ImageRegistryCredential",
            format_args!("at most {MAX_CREDENTIALS} credentials"),
        ));
    }
    // Server, UserName and Password are each optional (the Terraform
    // provider and ROS mark them so); a server is an address without its
    // scheme (the API page: "without http:// or https://").
    for (i, c) in s.image_registry_credentials.iter().enumerate() {
        let server = c.server.to_ascii_lowercase();
        if server.starts_with("http://") || server.starts_with("https://") {
            return Err(ApiError::invalid(
                &format!("ImageRegistryCredential.{}.Server", i + 1),
                "is a registry address without http:// or https://",
            ));
        }
    }
    Ok(())
}

/// Every `AcrRegistryInfo` names its instance.
fn check_acr_instances(s: &CacheSettings) -> Result<(), ApiError> {
    // "When you set the AcrRegistryInfo parameters, you must also set the
    // AcrRegistryInfo.N.InstanceId parameter" (the CreateImageCache page).
    for (i, info) in s.acr_registry_info.iter().enumerate() {
        if info.instance_id.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::missing(&format!(
                "AcrRegistryInfo.{}.InstanceId",
                i + 1
            )));
        }
    }
    Ok(())
}

/// `VSwitchId`: at most [`MAX_VSWITCHES`] ids separated by commas, none
/// empty.
fn check_v_switches(s: &CacheSettings) -> Result<(), ApiError> {
    if let Some(v) = &s.v_switch_id {
        let ids: Vec<&str> = v.split(',').map(str::trim).collect();
        if ids.len() > MAX_VSWITCHES {
            return Err(ApiError::invalid(
                "VSwitchId",
                format_args!("at most {MAX_VSWITCHES} ids separated by commas"),
            ));
        }
        if ids.iter().any(|id| id.is_empty()) {
            return Err(ApiError::invalid("VSwitchId", "an empty id between commas"));
        }
    }
    Ok(())
}

/// Every ACR domain is a registry host name.
fn check_acr_domains(s: &CacheSettings) -> Result<(), ApiError> {
    for (i, info) in s.acr_registry_info.iter().enumerate() {
        for domain in &info.domains {
            if crate::reference::Reference::parse(&format!("{domain}/x"))
                .map(|r| r.registry() == domain)
                != Ok(true)
            {
                return Err(ApiError::invalid(
                    &format!("AcrRegistryInfo.{}.Domain", i + 1),
                    format_args!("{domain:?} is not a registry host name"),
                ));
            }
        }
    }
    Ok(())
}

/// `FlashCopyCount` and `StandardCopyCount` at least 1.
fn check_copy_counts(s: &CacheSettings) -> Result<(), ApiError> {
    if s.flash_copy_count == Some(0) {
        return Err(ApiError::invalid("FlashCopyCount", "must be at least 1"));
    }
    if s.standard_copy_count == Some(0) {
        return Err(ApiError::invalid("StandardCopyCount", "must be at least 1"));
    }
    Ok(())
}
