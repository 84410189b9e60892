mod common;
mod lsf;
mod slurm;
