//! What tokens cost.

use crate::Usage;

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

impl Price {
    pub const fn new(input_per_mtok: f64, output_per_mtok: f64) -> Self {
        Price {
            input_per_mtok,
            output_per_mtok,
        }
    }

    /// What `usage` costs at this price, in US dollars.
    pub fn cost(&self, usage: Usage) -> f64 {
        (usage.prompt_tokens as f64 * self.input_per_mtok
            + usage.completion_tokens as f64 * self.output_per_mtok)
            / 1_000_000.0
    }
}

/// List prices (standard tier, no caching or batching) as published by OpenAI and
/// Anthropic in 2025. The longest matching prefix wins, so `gpt-4o-mini` is not priced as
/// `gpt-4o` and dated names (`claude-sonnet-4-20250514`) match their family.
const PRICES: &[(&str, Price)] = &[
    // OpenAI
    ("gpt-4o", Price::new(2.50, 10.00)),
    ("gpt-4o-mini", Price::new(0.15, 0.60)),
    ("gpt-4.1", Price::new(2.00, 8.00)),
    ("gpt-4.1-mini", Price::new(0.40, 1.60)),
    ("gpt-4.1-nano", Price::new(0.10, 0.40)),
    ("gpt-4-turbo", Price::new(10.00, 30.00)),
    ("gpt-3.5-turbo", Price::new(0.50, 1.50)),
    ("gpt-5", Price::new(1.25, 10.00)),
    ("gpt-5-mini", Price::new(0.25, 2.00)),
    ("gpt-5-nano", Price::new(0.05, 0.40)),
    ("o1", Price::new(15.00, 60.00)),
    ("o1-mini", Price::new(1.10, 4.40)),
    ("o1-pro", Price::new(150.00, 600.00)),
    ("o3", Price::new(2.00, 8.00)),
    ("o3-mini", Price::new(1.10, 4.40)),
    ("o3-pro", Price::new(20.00, 80.00)),
    ("o4-mini", Price::new(1.10, 4.40)),
    // Anthropic
    ("claude-3-haiku", Price::new(0.25, 1.25)),
    ("claude-3-opus", Price::new(15.00, 75.00)),
    ("claude-3-5-haiku", Price::new(0.80, 4.00)),
    ("claude-3-5-sonnet", Price::new(3.00, 15.00)),
    ("claude-3-7-sonnet", Price::new(3.00, 15.00)),
    ("claude-haiku-4-5", Price::new(1.00, 5.00)),
    ("claude-sonnet-4", Price::new(3.00, 15.00)),
    ("claude-opus-4", Price::new(15.00, 75.00)),
    ("claude-opus-4-5", Price::new(5.00, 25.00)),
];

/// The list price of a well-known model, matched by the longest name prefix in a built-in
/// table (gpt-4o, gpt-4o-mini, gpt-4.1*, gpt-5*, o1*, o3*, o4-mini, claude-3-5-sonnet,
/// claude-3-7-sonnet, claude-sonnet-4*, claude-opus-4*, claude-3-5-haiku, claude-haiku-4-5,
/// ...). A routing prefix such as `openai/` or `anthropic/` is ignored.
///
/// Unknown models (local ones included) give `None`, and then a reply costs 0: configure
/// [`ProviderConfig::price`](crate::ProviderConfig::price) to account for them. Prices
/// change; the table is a convenience, not a bill.
pub fn default_price(model: &str) -> Option<Price> {
    let name = model
        .rsplit('/')
        .next()
        .unwrap_or(model)
        .to_ascii_lowercase();
    PRICES
        .iter()
        .filter(|(prefix, _)| name.starts_with(prefix))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|&(_, price)| price)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins() {
        assert_eq!(
            default_price("gpt-4o-mini-2024-07-18"),
            Some(Price::new(0.15, 0.60))
        );
        assert_eq!(
            default_price("gpt-4o-2024-08-06"),
            Some(Price::new(2.50, 10.00))
        );
        assert_eq!(default_price("gpt-4.1-mini"), Some(Price::new(0.40, 1.60)));
        assert_eq!(default_price("o3-mini"), Some(Price::new(1.10, 4.40)));
        assert_eq!(default_price("o3"), Some(Price::new(2.00, 8.00)));
        assert_eq!(
            default_price("claude-opus-4-5-20251101"),
            Some(Price::new(5.0, 25.0))
        );
        assert_eq!(
            default_price("claude-opus-4-1-20250805"),
            Some(Price::new(15.0, 75.0))
        );
        assert_eq!(
            default_price("claude-sonnet-4-20250514"),
            Some(Price::new(3.0, 15.0))
        );
        assert_eq!(
            default_price("claude-3-5-haiku-latest"),
            Some(Price::new(0.8, 4.0))
        );
    }

    #[test]
    fn routing_prefix_and_case_are_ignored() {
        assert_eq!(
            default_price("openai/GPT-4o-mini"),
            default_price("gpt-4o-mini")
        );
    }

    #[test]
    fn unknown_models_have_no_price() {
        assert_eq!(default_price("llama-3.1-8b-instruct"), None);
        assert_eq!(default_price("qwen2.5-coder:7b"), None);
        assert_eq!(default_price(""), None);
    }

    #[test]
    fn cost_is_tokens_times_price() {
        let usage = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 500_000,
        };
        let cost = Price::new(2.0, 8.0).cost(usage);
        assert!((cost - 6.0).abs() < 1e-9, "{cost}");
    }
}
