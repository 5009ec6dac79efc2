#!/bin/sh
# Stand-in for the registration function answering the launch hook a few seconds
# after boot: stores the JIT config as the instance's parameter, then tags the
# instance with its ARN (in that order, as the function does).
set -eu
state=/var/lib/standin
sleep "$(cat "$state/registration-delay")"
id=$(cat "$state/instance-id")
prefix=$(sed -n 's/^SQLCOURIER_SSM_PREFIX=//p' /etc/sqlcourier/runner.env)
name=$(printf '%s/jit/%s' "$prefix" "$id" | sed 's|/|%2F|g')
cat "$state/jit-config" >"$state/ssm/$name"
printf 'arn:aws:ec2:ap-northeast-1:123456789012:instance/%s' "$id" >"$state/tags/sqlcourier:instance-arn"
echo "registration stand-in: stored the JIT config and tagged $id"
