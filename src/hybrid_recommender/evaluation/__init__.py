"""The paper's Section V evaluation: simulated observations (viewer, emotion, composite face), every system scored
on them under two protocols, the paper's tables regenerated beside its numbers, MLflow runs per observation."""
