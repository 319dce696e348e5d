"""HalfCheetah-v5 with its episodes cut to 50 steps by Gymnasium's own TimeLimit: the
same dynamics, observations, actions and MuJoCo renderer, for test_environments.py as
`--env_name short_episodes:HalfCheetah50-v5`. A recorded episode is then 50 frames, not
1,000: EGL's software renderer takes about 0.1 CPU-second a frame."""
import gymnasium as gym

gym.register('HalfCheetah50-v5',
             entry_point='gymnasium.envs.mujoco.half_cheetah_v5:HalfCheetahEnv',
             max_episode_steps=50)
