//! BigCommerce API client.
