mod bandit;
mod edit_blocks;
mod experts;
mod ideas;
mod props;
