//! What `CreateImageCache` and `UpdateImageCache` accept and
//! `DescribeImageCaches` never echoes: registries, credentials, network,
//! retention, flash copies.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A record's [`CacheSettings`], out of line: a pointer, and nothing
/// allocated while every setting is empty, as it is for nearly every cache.
/// It reads as a `CacheSettings` ([`Deref`](std::ops::Deref)); writing through
/// it allocates the first time. It is stored and compared as the settings
/// it holds.
///
/// ```
/// use eci_imagecache::record::{CacheSettings, Settings};
///
/// let mut settings = Settings::default();
/// assert_eq!(settings.zone_id, None);
/// assert_eq!(settings.heap_bytes(), 0);
/// settings.zone_id = Some("cn-hangzhou-k".to_owned());
/// assert!(settings.heap_bytes() > 0);
/// assert_eq!(*settings, CacheSettings { zone_id: Some("cn-hangzhou-k".to_owned()), ..CacheSettings::default() });
/// assert_eq!(Settings::from(CacheSettings::default()), Settings::default());
/// ```
#[derive(Clone, Default)]
pub struct Settings(Option<Box<CacheSettings>>);

/// The settings of every cache that has none.
static NO_SETTINGS: CacheSettings = CacheSettings {
    acr_registry_info: Vec::new(),
    image_registry_credentials: Vec::new(),
    annotations: None,
    auto_match_image_cache: None,
    eip_instance_id: None,
    security_group_id: None,
    v_switch_id: None,
    zone_id: None,
    insecure_registry: None,
    plain_http_registry: None,
    retention_days: None,
    flash: None,
    flash_copy_count: None,
    standard_copy_count: None,
};

impl Settings {
    /// The bytes allocated for the settings' fixed part (0 while empty).
    pub fn heap_bytes(&self) -> usize {
        self.0
            .as_ref()
            .map_or(0, |_| std::mem::size_of::<CacheSettings>())
    }
}

impl std::ops::Deref for Settings {
    type Target = CacheSettings;

    fn deref(&self) -> &CacheSettings {
        self.0.as_deref().unwrap_or(&NO_SETTINGS)
    }
}

impl std::ops::DerefMut for Settings {
    fn deref_mut(&mut self) -> &mut CacheSettings {
        self.0.get_or_insert_with(Box::default)
    }
}

impl From<CacheSettings> for Settings {
    fn from(settings: CacheSettings) -> Settings {
        Settings((settings != NO_SETTINGS).then(|| Box::new(settings)))
    }
}

impl PartialEq for Settings {
    fn eq(&self, other: &Settings) -> bool {
        **self == **other
    }
}

impl Eq for Settings {}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl Serialize for Settings {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Settings {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Settings, D::Error> {
        CacheSettings::deserialize(deserializer).map(Settings::from)
    }
}

/// What `CreateImageCache` / `UpdateImageCache` accept and `DescribeImageCaches`
/// never returns. Credentials are never printed: `Debug` hides passwords.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheSettings {
    /// `AcrRegistryInfo.N`.
    pub acr_registry_info: Vec<AcrRegistryInfo>,
    /// `ImageRegistryCredential.N`.
    pub image_registry_credentials: Vec<RegistryCredential>,
    /// `Annotations` (JSON text in practice).
    pub annotations: Option<String>,
    /// `AutoMatchImageCache`.
    pub auto_match_image_cache: Option<bool>,
    /// `EipInstanceId`.
    pub eip_instance_id: Option<String>,
    /// `SecurityGroupId`.
    pub security_group_id: Option<String>,
    /// `VSwitchId`: up to 10 ids separated by commas.
    pub v_switch_id: Option<String>,
    /// `ZoneId`.
    pub zone_id: Option<String>,
    /// `InsecureRegistry`.
    pub insecure_registry: Option<String>,
    /// `PlainHttpRegistry`.
    pub plain_http_registry: Option<String>,
    /// `RetentionDays`.
    pub retention_days: Option<u32>,
    /// `Flash`.
    pub flash: Option<bool>,
    /// `FlashCopyCount`.
    pub flash_copy_count: Option<u32>,
    /// `StandardCopyCount`.
    pub standard_copy_count: Option<u32>,
}

/// `AcrRegistryInfo.N`: an ACR Enterprise instance the cache pulls from.
/// Its domains are aliases of the instance when matching.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AcrRegistryInfo {
    /// `InstanceId`.
    pub instance_id: Option<String>,
    /// `InstanceName`.
    pub instance_name: Option<String>,
    /// `RegionId`.
    pub region_id: Option<String>,
    /// `Domain.N`.
    pub domains: Vec<String>,
    /// `ArnService`.
    pub arn_service: Option<String>,
    /// `ArnUser`.
    pub arn_user: Option<String>,
}

/// `ImageRegistryCredential.N`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryCredential {
    /// `Server`.
    pub server: String,
    /// `UserName`.
    pub user_name: String,
    /// `Password`: kept, never echoed, never logged.
    pub password: String,
}

impl fmt::Debug for RegistryCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredential")
            .field("server", &self.server)
            .field("user_name", &self.user_name)
            .field("password", &"<redacted>")
            .finish()
    }
}
