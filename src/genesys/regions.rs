//! The 18 Genesys Cloud regions: SDK region name and environment host. The API lives at
//! `https://api.<host>`, login at `https://login.<host>` (every SDK derives login from the API
//! base by replacing `//api.` with `//login.`).

/// `(SDK region name, environment host)`, as in the official SDKs' region host tables.
pub const REGIONS: [(&str, &str); 18] = [
    ("us_east_1", "mypurecloud.com"),
    ("eu_west_1", "mypurecloud.ie"),
    ("ap_southeast_2", "mypurecloud.com.au"),
    ("ap_northeast_1", "mypurecloud.jp"),
    ("eu_central_1", "mypurecloud.de"),
    ("us_west_2", "usw2.pure.cloud"),
    ("ca_central_1", "cac1.pure.cloud"),
    ("ap_northeast_2", "apne2.pure.cloud"),
    ("eu_west_2", "euw2.pure.cloud"),
    ("ap_south_1", "aps1.pure.cloud"),
    ("us_east_2", "use2.us-gov-pure.cloud"),
    ("sa_east_1", "sae1.pure.cloud"),
    ("me_central_1", "mec1.pure.cloud"),
    ("ap_northeast_3", "apne3.pure.cloud"),
    ("eu_central_2", "euc2.pure.cloud"),
    ("mx_central_1", "mxc1.pure.cloud"),
    ("ap_southeast_1", "apse1.pure.cloud"),
    ("eusc_de_east_1", "edee1.eusc-pure.cloud"),
];

/// Finds a region by environment host (`usw2.pure.cloud`, also with an `api.` prefix or a
/// scheme) or by SDK name (`us_west_2`), case-insensitively. Returns the environment host.
pub fn environment_host(name: &str) -> Option<&'static str> {
    let name = name.trim().trim_end_matches('/');
    let name = name
        .strip_prefix("https://")
        .or_else(|| name.strip_prefix("http://"))
        .unwrap_or(name);
    let name = name
        .strip_prefix("api.")
        .or_else(|| name.strip_prefix("login."))
        .unwrap_or(name);
    REGIONS
        .iter()
        .find(|(sdk, host)| sdk.eq_ignore_ascii_case(name) || host.eq_ignore_ascii_case(name))
        .map(|(_, host)| *host)
}

/// `https://api.<host>`.
pub fn api_base(host: &str) -> String {
    format!("https://api.{host}")
}

/// The login base for an API base, as the SDKs derive it: `//api.` becomes `//login.`.
/// A base without `//api.` (the emulator, a proxy) serves login itself.
pub fn login_base_for(api_base: &str) -> String {
    match api_base.find("//api.") {
        Some(at) => format!(
            "{}//login.{}",
            &api_base[..at],
            &api_base[at + "//api.".len()..]
        ),
        None => api_base.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_is_found_by_host_and_by_sdk_name() {
        for (sdk, host) in REGIONS {
            assert_eq!(environment_host(host), Some(host));
            assert_eq!(environment_host(sdk), Some(host));
            assert_eq!(environment_host(&format!("api.{host}")), Some(host));
        }
        assert_eq!(environment_host("USW2.PURE.CLOUD"), Some("usw2.pure.cloud"));
        assert_eq!(environment_host("example.com"), None);
    }

    #[test]
    fn login_base_is_derived_like_the_sdks_do() {
        assert_eq!(
            login_base_for("https://api.usw2.pure.cloud"),
            "https://login.usw2.pure.cloud"
        );
        assert_eq!(
            login_base_for("http://127.0.0.1:4000"),
            "http://127.0.0.1:4000"
        );
    }
}
