#!/usr/bin/env python3
"""Benchmark peer (bench/run, workload "aws"): the cluster of profiles/aws/ubuntu.lua built by
a plain sequential boto3 script — what one would write by hand instead of kengine.

    boto3_peer.py create  --endpoint URL --cluster NAME --public-key FILE [--nodes 2]
    boto3_peer.py noop    --endpoint URL --cluster NAME [--nodes 2]   # describe + compare
    boto3_peer.py scale   --endpoint URL --cluster NAME --nodes 10
    boto3_peer.py destroy --endpoint URL --cluster NAME

The same objects as the aws provider, created one call after the other in dependency order:
VPC, internet gateway (+ attach), route table (+ default route), 2 subnets (+ association),
2 security groups (+ ingress), key pair, AMI lookup, then per machine set (master first):
launch template, auto scaling group, wait until its instances are InService, read their
private addresses (the node user data carries the master's). Every object is tagged
kengine.io/cluster=<cluster> so that `noop`, `scale` and `destroy` find them by tag, as a
fresh process (no local state), like kengine does. User data: the repository's bootstrap
scripts with each {{ var }} replaced, gzip'd and base64'd, as kengine sends them.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import os
import re
import sys
import time

import boto3

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CANONICAL = "099720109477"
VPC_CIDR = "10.0.0.0/16"
SETS = [
    {"name": "master", "role": "master", "count": 1, "cidr": "10.0.0.0/24", "zone": "us-east-1a",
     "ports": [22, 6443], "script": "bootstrap/ubuntu/kubeadm-master.sh"},
    {"name": "node", "role": "node", "count": 2, "cidr": "10.0.1.0/24", "zone": "us-east-1b",
     "ports": [22], "script": "bootstrap/ubuntu/kubeadm-node.sh"},
]


def clients(endpoint):
    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
              aws_secret_access_key="testing")
    return boto3.client("ec2", **kw), boto3.client("autoscaling", **kw)


def tags(cluster, kind, name):
    return [{"Key": "kengine.io/cluster", "Value": cluster},
            {"Key": "kengine.io/address", "Value": f"{kind}.{name}"},
            {"Key": "Name", "Value": f"{cluster}-{name}"}]


def spec(resource_type, cluster, kind, name):
    return [{"ResourceType": resource_type, "Tags": tags(cluster, kind, name)}]


def owned(cluster):
    return [{"Name": "tag:kengine.io/cluster", "Values": [cluster]}]


def user_data(path, values):
    with open(os.path.join(REPO, path)) as f:
        text = f.read()
    text = re.sub(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}", lambda m: str(values.get(m.group(1), m.group(1))), text)
    return base64.b64encode(gzip.compress(text.encode())).decode()


def find_image(ec2):
    for pattern in ("ubuntu/images/hvm-ssd*/ubuntu-noble-24.04-amd64-server-*", "ubuntu/images/hvm-ssd*/ubuntu-*-amd64-server-*"):
        images = ec2.describe_images(Owners=[CANONICAL], Filters=[{"Name": "name", "Values": [pattern]},
                                                                  {"Name": "state", "Values": ["available"]}])["Images"]
        if images:
            return max(images, key=lambda i: (i.get("CreationDate", ""), i["Name"]))["ImageId"]
    sys.exit("no ubuntu image")


def wait_in_service(asg, name, count):
    while True:
        g = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
        ready = [i["InstanceId"] for i in g["Instances"] if i["LifecycleState"] == "InService"]
        if len(ready) >= count:
            return sorted(ready)
        time.sleep(5)


def addresses(ec2, ids):
    if not ids:
        return []
    out = []
    for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
        out += [i["PrivateIpAddress"] for i in r["Instances"]]
    return sorted(out)


def create(a):
    ec2, asg = clients(a.endpoint)
    c = a.cluster
    vpc = ec2.create_vpc(CidrBlock=VPC_CIDR, TagSpecifications=spec("vpc", c, "aws_vpc", "main"))["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway(TagSpecifications=spec("internet-gateway", c, "aws_internet_gateway", "main"))
    igw = igw["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=spec("route-table", c, "aws_route_table", "main"))
    rt = rt["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    subnets, groups = {}, {}
    for s in SETS:
        sid = ec2.create_subnet(VpcId=vpc, CidrBlock=s["cidr"], AvailabilityZone=s["zone"],
                                TagSpecifications=spec("subnet", c, "aws_subnet", s["name"] + "-1"))["Subnet"]["SubnetId"]
        ec2.associate_route_table(RouteTableId=rt, SubnetId=sid)
        subnets[s["name"]] = sid
    for s in SETS:
        gid = ec2.create_security_group(GroupName=f"{c}-{s['name']}", Description=f"kengine {c} {s['name']}", VpcId=vpc,
                                        TagSpecifications=spec("security-group", c, "aws_security_group", s["name"]))["GroupId"]
        perms = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": VPC_CIDR}]}]
        perms += [{"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]} for p in s["ports"]]
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=perms)
        groups[s["name"]] = gid
    with open(a.public_key) as f:
        ec2.import_key_pair(KeyName=c, PublicKeyMaterial=f.read().strip().encode(),
                            TagSpecifications=spec("key-pair", c, "aws_key_pair", "main"))
    image = find_image(ec2)
    master_address = ""
    for s in SETS:
        count = a.nodes if s["role"] == "node" else s["count"]
        values = {"cluster_name": c, "role": s["role"], "machine_set": s["name"], "kubernetes_version": "1.31.2",
                  "token": "abcdef.0123456789abcdef", "master_address": master_address, "pod_cidr": "10.244.0.0/16",
                  "network_cidr": VPC_CIDR}
        lt = ec2.create_launch_template(
            LaunchTemplateName=f"{c}-{s['name']}",
            LaunchTemplateData={"ImageId": image, "InstanceType": "t3.medium", "KeyName": c,
                                "SecurityGroupIds": [groups[s["name"]]], "UserData": user_data(s["script"], values)},
            TagSpecifications=spec("launch-template", c, "aws_launch_template", s["name"]))["LaunchTemplate"]["LaunchTemplateId"]
        name = f"{c}-{s['name']}"
        asg.create_auto_scaling_group(
            AutoScalingGroupName=name, MinSize=count, MaxSize=count, DesiredCapacity=count,
            LaunchTemplate={"LaunchTemplateId": lt, "Version": "$Latest"}, VPCZoneIdentifier=subnets[s["name"]],
            Tags=[dict(t, PropagateAtLaunch=True, ResourceId=name, ResourceType="auto-scaling-group")
                  for t in tags(c, "aws_autoscaling_group", s["name"])])
        ips = addresses(ec2, wait_in_service(asg, name, count))
        if s["role"] == "master" and ips:
            master_address = ips[0]
    print("created", c)


def noop(a):
    """Describe every object of the cluster by tag and compare with what create makes."""
    ec2, asg = clients(a.endpoint)
    c, f = a.cluster, owned(a.cluster)
    found = {
        "vpcs": len(ec2.describe_vpcs(Filters=f)["Vpcs"]),
        "subnets": len(ec2.describe_subnets(Filters=f)["Subnets"]),
        "igws": len(ec2.describe_internet_gateways(Filters=f)["InternetGateways"]),
        "route_tables": len(ec2.describe_route_tables(Filters=f)["RouteTables"]),
        "security_groups": len(ec2.describe_security_groups(Filters=f)["SecurityGroups"]),
        "key_pairs": len(ec2.describe_key_pairs(Filters=f)["KeyPairs"]),
        "launch_templates": len(ec2.describe_launch_templates(Filters=f)["LaunchTemplates"]),
    }
    ec2.describe_launch_template_versions(Versions=["$Latest"])
    groups = asg.describe_auto_scaling_groups(Filters=[{"Name": "tag:kengine.io/cluster", "Values": [c]}])["AutoScalingGroups"]
    ec2.describe_instances(Filters=f + [{"Name": "instance-state-name", "Values": ["pending", "running"]}])
    want = {"vpcs": 1, "subnets": 2, "igws": 1, "route_tables": 1, "security_groups": 2, "key_pairs": 1, "launch_templates": 2}
    counts = {g["AutoScalingGroupName"]: g["DesiredCapacity"] for g in groups}
    want_counts = {f"{c}-master": 1, f"{c}-node": a.nodes}
    if found != want or counts != want_counts:
        print("changes:", found, counts)
        sys.exit(2)
    print("no changes")


def scale(a):
    ec2, asg = clients(a.endpoint)
    name = f"{a.cluster}-node"
    asg.update_auto_scaling_group(AutoScalingGroupName=name, MinSize=a.nodes, MaxSize=a.nodes, DesiredCapacity=a.nodes)
    addresses(ec2, wait_in_service(asg, name, a.nodes))
    print("scaled", name, a.nodes)


def destroy(a):
    ec2, asg = clients(a.endpoint)
    c, f = a.cluster, owned(a.cluster)
    groups = asg.describe_auto_scaling_groups(Filters=[{"Name": "tag:kengine.io/cluster", "Values": [c]}])["AutoScalingGroups"]
    for g in groups:
        asg.delete_auto_scaling_group(AutoScalingGroupName=g["AutoScalingGroupName"], ForceDelete=True)
    for g in groups:
        while asg.describe_auto_scaling_groups(AutoScalingGroupNames=[g["AutoScalingGroupName"]])["AutoScalingGroups"]:
            time.sleep(5)
    for lt in ec2.describe_launch_templates(Filters=f)["LaunchTemplates"]:
        ec2.delete_launch_template(LaunchTemplateId=lt["LaunchTemplateId"])
    for k in ec2.describe_key_pairs(Filters=f)["KeyPairs"]:
        ec2.delete_key_pair(KeyName=k["KeyName"])
    for sg in ec2.describe_security_groups(Filters=f)["SecurityGroups"]:
        ec2.delete_security_group(GroupId=sg["GroupId"])
    for rt in ec2.describe_route_tables(Filters=f)["RouteTables"]:
        for assoc in rt.get("Associations", []):
            if not assoc.get("Main"):
                ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
        for route in rt.get("Routes", []):
            if route.get("GatewayId", "").startswith("igw-"):
                ec2.delete_route(RouteTableId=rt["RouteTableId"], DestinationCidrBlock=route["DestinationCidrBlock"])
        ec2.delete_route_table(RouteTableId=rt["RouteTableId"])
    for igw in ec2.describe_internet_gateways(Filters=f)["InternetGateways"]:
        for att in igw.get("Attachments", []):
            ec2.detach_internet_gateway(InternetGatewayId=igw["InternetGatewayId"], VpcId=att["VpcId"])
        ec2.delete_internet_gateway(InternetGatewayId=igw["InternetGatewayId"])
    for s in ec2.describe_subnets(Filters=f)["Subnets"]:
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    for v in ec2.describe_vpcs(Filters=f)["Vpcs"]:
        ec2.delete_vpc(VpcId=v["VpcId"])
    print("destroyed", c)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("phase", choices=["create", "noop", "scale", "destroy"])
    p.add_argument("--endpoint", required=True)
    p.add_argument("--cluster", default="kengine-aws")
    p.add_argument("--nodes", type=int, default=2)
    p.add_argument("--public-key")
    a = p.parse_args()
    started = time.perf_counter()
    {"create": create, "noop": noop, "scale": scale, "destroy": destroy}[a.phase](a)
    # For bench/run's "calls only" row: the time after Python start-up and `import boto3`.
    print(f"calls-seconds: {time.perf_counter() - started:.6f}", file=sys.stderr)


if __name__ == "__main__":
    main()
